package io.sparkformers.training.models;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Parameter;
import io.sparkformers.training.models.internal.Checkpoint;
import io.sparkformers.training.models.internal.ShardPlan;
import io.sparkformers.training.models.nn.Module;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What every architecture shares: the module tree its parameters live in, saving, and closing. A subclass
 * declares its modules in its constructor (in transformers' order: see {@link Module}); {@link AutoModel} then
 * creates the parameters, from a checkpoint or freshly initialised, through its {@link ModelArchitecture}.
 */
public abstract class BaseModel extends Module implements PreTrainedModel {
  private NDManager manager;
  private LoadReport loadReport = LoadReport.none();

  protected BaseModel() {}

  /**
   * Creates the parameters in declaration order, taking values from {@code values} where present (moved into
   * {@code manager}) and initialising the rest; the model owns {@code manager} from now on.
   */
  final void create(NDManager manager, Map<String, NDArray> values) {
    if (this.manager != null) {
      throw new IllegalStateException("the model's parameters are already created");
    }
    this.manager = manager;
    createParameters(manager, values);
  }

  @Override
  public final NDManager manager() {
    if (manager == null) {
      throw new IllegalStateException("the model's parameters are not created yet (AutoModel creates them)");
    }
    return manager;
  }

  @Override
  public final Map<String, Parameter> namedParameters() {
    return super.namedParameters();
  }

  @Override
  public final Map<String, Parameter> trainableParameters() {
    return super.trainableParameters();
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
    namedParameters().forEach((name, param) -> {
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
    Path tmp = io.sparkformers.training.models.internal.TempFiles.beside(index);
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
    if (manager != null) {
      manager.close();
    }
  }
}
