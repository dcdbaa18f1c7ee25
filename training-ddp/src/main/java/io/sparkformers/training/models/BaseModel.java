package io.sparkformers.training.models;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Parameter;
import io.sparkformers.training.models.internal.Checkpoint;
import io.sparkformers.training.models.internal.ParamSpec;
import io.sparkformers.training.models.internal.ShardPlan;
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
    savePretrained(folder, SaveOptions.builder().floatType(floatType).build());
  }

  /**
   * Writes config.json and the weights, split into shards as transformers' save_pretrained does when they
   * pass {@link SaveOptions#maxShardSize()}. Stale weights of the other layout (an index and its shards, or a
   * single model.safetensors) are removed, so that a loader never finds two versions.
   */
  @Override
  public final void savePretrained(Path folder, SaveOptions options) throws IOException {
    DataType floatType = options.floatType();
    Files.createDirectories(folder);
    config().save(folder, floatType == DataType.FLOAT16 ? "float16" : "float32");
    Map<String, NDArray> arrays = new LinkedHashMap<>();
    Map<String, Long> sizes = new LinkedHashMap<>();
    parameters.forEach((name, param) -> {
      NDArray a = param.getArray();
      arrays.put(name, a);
      int bytes = a.getDataType().isFloating() ? floatType.getNumOfBytes() : a.getDataType().getNumOfBytes();
      sizes.put(name, a.size() * bytes);
    });
    ShardPlan plan = ShardPlan.split(sizes, options.maxShardSize());
    for (String file : plan.fileNames()) {
      Map<String, NDArray> shard = new LinkedHashMap<>();
      for (String name : plan.tensorsIn(file)) {
        shard.put(name, arrays.get(name));
      }
      SafeTensorsWriter.write(folder.resolve(file), shard, Map.of("format", "pt"), floatType);
    }
    Path index = folder.resolve(Checkpoint.INDEX);
    if (plan.sharded()) {
      writeIndex(index, plan);
      Files.deleteIfExists(folder.resolve(Checkpoint.WEIGHTS));
    } else {
      Files.deleteIfExists(index);
    }
    // transformers' clean-up: earlier shards (model-NNNNN-of-NNNNN.safetensors) not written now are removed.
    try (var listing = Files.list(folder)) {
      for (Path f : (Iterable<Path>) listing::iterator) {
        String n = f.getFileName().toString();
        if (SHARD_NAME.matcher(n).matches() && !plan.fileNames().contains(n) && Files.isRegularFile(f)) {
          Files.delete(f);
        }
      }
    }
  }

  private static final java.util.regex.Pattern SHARD_NAME =
      java.util.regex.Pattern.compile("model-\\d{5}-of-\\d{5}\\.safetensors");

  /** transformers' index: json.dumps({"metadata": {"total_size": N}, "weight_map": {...}}, indent=2, sort_keys=True). */
  private static void writeIndex(Path index, ShardPlan plan) throws IOException {
    java.util.TreeMap<String, String> weightMap = new java.util.TreeMap<>();
    for (String file : plan.fileNames()) {
      for (String name : plan.tensorsIn(file)) {
        weightMap.put(name, file);
      }
    }
    StringBuilder json = new StringBuilder("{\n  \"metadata\": {\n    \"total_size\": ").append(plan.totalSize())
        .append("\n  },\n  \"weight_map\": {");
    boolean first = true;
    for (Map.Entry<String, String> e : weightMap.entrySet()) {
      json.append(first ? "\n" : ",\n").append("    ").append(new com.google.gson.JsonPrimitive(e.getKey()))
          .append(": ").append(new com.google.gson.JsonPrimitive(e.getValue()));
      first = false;
    }
    json.append("\n  }\n}\n");
    Path tmp = Files.createTempFile(index.toAbsolutePath().getParent(), "." + index.getFileName(), ".tmp");
    try {
      Files.writeString(tmp, json, java.nio.charset.StandardCharsets.UTF_8);
      Files.move(tmp, index, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
          java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  @Override
  public void close() {
    manager.close();
  }
}
