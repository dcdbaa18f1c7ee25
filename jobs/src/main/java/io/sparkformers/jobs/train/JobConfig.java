package io.sparkformers.jobs.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.sparkformers.training.TrainingArguments;
import io.sparkformers.training.internal.Names;
import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A training job as written in a YAML file ({@code conf/*.yaml}), with {@code --set key=value} overrides
 * applied: the Spark master and world size, the model (a Hugging Face folder or a config), the dataset files
 * and columns, the metrics and the {@code training_args} (TrainingArguments' snake_case keys). Every key is
 * checked; an unknown one is an error naming the nearest valid key. Immutable and serialisable: it travels to
 * the ranks.
 */
public final class JobConfig implements Serializable {
  private static final long serialVersionUID = 1L;
  static final Set<String> TOP = Set.of("spark_master", "world_size", "model", "data", "metrics", "training_args");
  static final Set<String> MODEL = Set.of("path", "config");
  static final Set<String> DATA = Set.of("train_file", "eval_file", "format", "header", "label_column",
      "feature_columns", "feature_scale", "test_size", "split_seed");
  static final Set<String> METRICS = Set.of("accuracy", "f1_macro", "precision_macro", "recall_macro",
      "f1_weighted");

  private final String source;
  private final String sparkMaster;
  private final int worldSize;
  private final String modelPath;
  private final Map<String, Object> modelConfig;
  private final Map<String, Object> data;
  private final List<String> metrics;
  private final Map<String, Object> trainingArgs;

  private JobConfig(String source, Map<String, Object> root) {
    this.source = source;
    checkKeys(root, TOP, "");
    this.sparkMaster = root.get("spark_master") == null ? null : root.get("spark_master").toString();
    this.worldSize = root.get("world_size") == null ? 1 : integer(root.get("world_size"), "world_size");
    if (worldSize < 1) {
      throw bad("world_size", "a positive integer", root.get("world_size"));
    }
    Map<String, Object> model = section(root, "model");
    checkKeys(model, MODEL, "model.");
    this.modelPath = model.get("path") == null ? null : model.get("path").toString();
    this.modelConfig = model.get("config") == null ? null : section(model, "config");
    if ((modelPath == null) == (modelConfig == null)) {
      throw new IllegalArgumentException(source + ": model needs exactly one of 'path' (a Hugging Face model"
          + " folder) or 'config' (a config.json as a map)");
    }
    this.data = section(root, "data");
    checkKeys(data, DATA, "data.");
    if (data.get("train_file") == null) {
      throw new IllegalArgumentException(source + ": data.train_file is required");
    }
    Object fmt = data.getOrDefault("format", "csv");
    if (!"csv".equals(fmt)) {
      throw bad("data.format", "csv (numeric features and an integer label)", fmt);
    }
    List<String> m = new ArrayList<>();
    Object ms = root.get("metrics");
    if (ms instanceof List<?> list) {
      for (Object o : list) {
        String name = String.valueOf(o);
        if (!METRICS.contains(name)) {
          throw new IllegalArgumentException(source + ": unknown metric '" + name + "'"
              + Names.didYouMean(name, METRICS) + " (valid: " + METRICS + ")");
        }
        m.add(name);
      }
    } else if (ms != null) {
      throw bad("metrics", "a list of metric names", ms);
    }
    this.metrics = List.copyOf(m);
    this.trainingArgs = root.get("training_args") == null ? Map.of() : section(root, "training_args");
    // Fail now, before Spark starts, on any bad training argument.
    TrainingArguments.fromMap(trainingArgs, source + ": training_args");
  }

  /** Reads a YAML job file and applies {@code key=value} overrides (dotted keys, YAML values). */
  public static JobConfig load(Path file, List<String> overrides) throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException(file + ": no such config file");
    }
    return parse(Files.readString(file), file.toString(), overrides);
  }

  /** Parses YAML text; {@code source} names it in errors. */
  @SuppressWarnings("unchecked")
  public static JobConfig parse(String yaml, String source, List<String> overrides) {
    ObjectMapper mapper = new ObjectMapper(new YAMLFactory());
    Map<String, Object> root;
    try {
      Object parsed = mapper.readValue(yaml, Object.class);
      if (!(parsed instanceof Map)) {
        throw new IllegalArgumentException(source + ": expected a YAML mapping at the top, found "
            + (parsed == null ? "nothing" : parsed.getClass().getSimpleName()));
      }
      root = (Map<String, Object>) parsed;
    } catch (IOException e) {
      throw new IllegalArgumentException(source + ": not valid YAML: " + e.getMessage(), e);
    }
    root = deepCopy(root);
    for (String o : overrides) {
      applyOverride(root, o, source, mapper);
    }
    return new JobConfig(source, root);
  }

  @SuppressWarnings("unchecked")
  private static void applyOverride(Map<String, Object> root, String override, String source,
      ObjectMapper yaml) {
    int eq = override.indexOf('=');
    if (eq <= 0) {
      throw new IllegalArgumentException("--set " + override + ": expected key=value");
    }
    String key = override.substring(0, eq).trim();
    Object value;
    try {
      value = yaml.readValue(override.substring(eq + 1), Object.class);
    } catch (IOException e) {
      value = override.substring(eq + 1);
    }
    String[] path = key.split("\\.");
    // A bare TrainingArguments key (a misspelt one too, unless it is nearer a top-level key: the error then
    // names the nearest TrainingArguments key).
    if (path.length == 1 && !TOP.contains(key)
        && (TrainingArguments.keys().contains(key) || Names.nearest(key, TOP) == null)) {
      path = new String[] {"training_args", key};
    }
    Map<String, Object> m = root;
    for (int i = 0; i < path.length - 1; i++) {
      Object next = m.get(path[i]);
      if (next == null) {
        next = new LinkedHashMap<String, Object>();
        m.put(path[i], next);
      }
      if (!(next instanceof Map)) {
        throw new IllegalArgumentException("--set " + override + ": '" + path[i] + "' is not a section");
      }
      m = (Map<String, Object>) next;
    }
    m.put(path[path.length - 1], value);
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> deepCopy(Map<String, Object> m) {
    Map<String, Object> out = new LinkedHashMap<>();
    for (Map.Entry<String, Object> e : m.entrySet()) {
      Object v = e.getValue();
      out.put(e.getKey(), v instanceof Map ? deepCopy((Map<String, Object>) v)
          : v instanceof List<?> l ? new ArrayList<>(l) : v);
    }
    return out;
  }

  private void checkKeys(Map<String, Object> m, Set<String> valid, String prefix) {
    for (String k : m.keySet()) {
      if (!valid.contains(k)) {
        String nearest = Names.nearest(k, valid);
        throw new IllegalArgumentException(source + ": unknown key '" + prefix + k + "'"
            + (nearest == null ? "" : " — did you mean '" + prefix + nearest + "'?")
            + " (valid: " + new java.util.TreeSet<>(valid) + ")");
      }
    }
  }

  @SuppressWarnings("unchecked")
  private Map<String, Object> section(Map<String, Object> m, String key) {
    Object v = m.get(key);
    if (v == null) {
      throw new IllegalArgumentException(source + ": section '" + key + "' is required");
    }
    if (!(v instanceof Map)) {
      throw bad(key, "a mapping", v);
    }
    return (Map<String, Object>) v;
  }

  private int integer(Object v, String key) {
    if (v instanceof Integer i) {
      return i;
    }
    try {
      return Integer.parseInt(String.valueOf(v).trim());
    } catch (NumberFormatException e) {
      throw bad(key, "an integer", v);
    }
  }

  private IllegalArgumentException bad(String key, String expected, Object got) {
    return new IllegalArgumentException(source + ": key '" + key + "': expected " + expected + ", got '" + got
        + "'");
  }

  public String source() { return source; }
  public String sparkMaster() { return sparkMaster; }
  public int worldSize() { return worldSize; }
  public String modelPath() { return modelPath; }
  public Map<String, Object> modelConfig() { return modelConfig; }
  public List<String> metrics() { return metrics; }
  public Map<String, Object> trainingArgsMap() { return trainingArgs; }

  public TrainingArguments trainingArguments() {
    return TrainingArguments.fromMap(trainingArgs, source + ": training_args");
  }

  public String trainFile() { return data.get("train_file").toString(); }
  public String evalFile() { return data.get("eval_file") == null ? null : data.get("eval_file").toString(); }
  public boolean header() { return Boolean.parseBoolean(String.valueOf(data.getOrDefault("header", "true"))); }
  public String labelColumn() { return String.valueOf(data.getOrDefault("label_column", "label")); }

  public List<String> featureColumns() {
    Object f = data.get("feature_columns");
    if (f == null) {
      return List.of();
    }
    if (!(f instanceof List<?> l)) {
      throw bad("data.feature_columns", "a list of column names", f);
    }
    return l.stream().map(String::valueOf).toList();
  }

  public float featureScale() {
    return Float.parseFloat(String.valueOf(data.getOrDefault("feature_scale", "1")));
  }

  public double testSize() {
    double t = Double.parseDouble(String.valueOf(data.getOrDefault("test_size", "0.2")));
    if (!(t > 0 && t < 1)) {
      throw bad("data.test_size", "a fraction in (0, 1)", t);
    }
    return t;
  }

  public long splitSeed() {
    return Long.parseLong(String.valueOf(data.getOrDefault("split_seed", "42")));
  }
}
