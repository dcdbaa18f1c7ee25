package io.sparkformers.training.models;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Parameter;
import io.sparkformers.training.models.internal.ParamSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** What every architecture shares: the parameter table, saving, and closing. */
abstract class BaseModel implements PreTrainedModel {
  private final NDManager manager;
  private final Map<String, Parameter> parameters;
  private LoadReport loadReport = LoadReport.none();

  /**
   * Creates the parameters in the declared order, taking values from {@code values} where present (moved into
   * this model's manager) and initialising the rest.
   */
  BaseModel(NDManager manager, List<ParamSpec> specs, Map<String, NDArray> values) {
    this.manager = manager;
    Map<String, Parameter> params = new LinkedHashMap<>();
    for (ParamSpec spec : specs) {
      NDArray value = values.get(spec.name());
      NDArray array = value != null ? value : spec.initialise(manager);
      array.attach(manager);
      array.setRequiresGradient(true);
      params.put(spec.name(), Parameter.builder()
          .setName(spec.name())
          .setType(spec.shape().dimension() == 1 ? Parameter.Type.BIAS : Parameter.Type.WEIGHT)
          .optArray(array)
          .optRequiresGrad(true)
          .build());
    }
    this.parameters = Collections.unmodifiableMap(params);
  }

  /** The array of a parameter by Hugging Face name. */
  final NDArray p(String name) {
    Parameter param = parameters.get(name);
    if (param == null) {
      throw new IllegalStateException("no parameter " + name);
    }
    return param.getArray();
  }

  @Override
  public final NDManager manager() {
    return manager;
  }

  @Override
  public final Map<String, Parameter> namedParameters() {
    return parameters;
  }

  @Override
  public final LoadReport loadReport() {
    return loadReport;
  }

  final void setLoadReport(LoadReport report) {
    this.loadReport = report;
  }

  @Override
  public final void savePretrained(Path folder) throws IOException {
    savePretrained(folder, DataType.FLOAT32);
  }

  @Override
  public final void savePretrained(Path folder, DataType floatType) throws IOException {
    if (floatType != DataType.FLOAT32 && floatType != DataType.FLOAT16) {
      throw new IllegalArgumentException("weights are saved as FLOAT32 or FLOAT16, not " + floatType);
    }
    Files.createDirectories(folder);
    config().save(folder, floatType == DataType.FLOAT16 ? "float16" : "float32");
    Map<String, NDArray> arrays = new LinkedHashMap<>();
    parameters.forEach((name, param) -> arrays.put(name, param.getArray()));
    SafeTensorsWriter.write(folder.resolve("model.safetensors"), arrays, Map.of("format", "pt"), floatType);
  }

  @Override
  public void close() {
    manager.close();
  }
}
