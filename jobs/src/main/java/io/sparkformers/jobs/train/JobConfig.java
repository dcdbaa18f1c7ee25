package io.sparkformers.jobs.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.sparkformers.training.KeyNames;
import io.sparkformers.training.TrainingArguments;
import io.sparkformers.datasets.DataFormat;
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
 * applied: the task, the Spark master and world size, the model (a Hugging Face folder or a config), the
 * dataset files and columns, the metrics and the {@code training_args} (TrainingArguments' snake_case keys).
 * {@link #KEYS} is the one definition of the keys and their meaning; every key is checked against it, and an
 * unknown one is an error naming the nearest valid key. Immutable and serialisable: it travels to the ranks.
 */
public final class JobConfig implements Serializable {
  private static final long serialVersionUID = 1L;

  /** One key of a job file: its section ("" for the top level), name and meaning. */
  public record Key(String section, String name, String doc) {
    public String path() {
      return section.isEmpty() ? name : section + "." + name;
    }
  }

  /** The tasks a job trains for. */
  public enum Task {
    /** Numeric feature columns and a class label, for an {@code mlp}. */
    TABULAR_CLASSIFICATION,
    /** A text column and a class label, for a {@code bert} (transformers' run_glue). */
    SEQUENCE_CLASSIFICATION,
    /** A text column, tokenized and grouped into blocks, for a {@code gpt2} (transformers' run_clm). */
    CAUSAL_LM;

    public String configName() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  /** Every key a job file may hold (training_args holds TrainingArguments' keys, checked by it). */
  public static final List<Key> KEYS = List.of(
      new Key("", "task", "tabular_classification, sequence_classification or causal_lm (default: from the"
          + " model_type: mlp, bert, gpt2)"),
      new Key("", "spark_master", "the Spark master of an embedded Spark (default local[world_size]); ignored"
          + " under spark-submit, which sets it"),
      new Key("", "world_size", "data-parallel ranks, one Spark barrier task each (default 1)"),
      new Key("", "model", "the model section"),
      new Key("", "data", "the dataset section"),
      new Key("", "metrics", "metric names: accuracy, f1_macro, precision_macro, recall_macro, f1_weighted"
          + " (classification), perplexity (causal_lm)"),
      new Key("", "training_args", "TrainingArguments, snake_case as in transformers"),
      new Key("model", "path", "a Hugging Face model folder (config.json, model.safetensors)"),
      new Key("model", "config", "a config.json as a map (a new model, initialised from the seed)"),
      new Key("data", "train_file", "a path, glob, folder or Hadoop URI (s3a://...), or a list of them;"
          + " classpath:/... for a file in the jar"),
      new Key("data", "eval_file", "as train_file; without it, the training rows are split (test_size, or"
          + " validation_split_percentage for causal_lm)"),
      new Key("data", "format", "csv, json, jsonl, parquet, arrow or text (default: the train_file's extension)"),
      new Key("data", "header", "csv: whether the first row names the columns (default true; without one the"
          + " columns are column_0, column_1, ...)"),
      new Key("data", "label_column", "the class column (default label): integers are class ids, strings are"
          + " sorted and numbered as run_glue does"),
      new Key("data", "feature_columns", "tabular: the numeric feature columns (default: every numeric column"
          + " but the label)"),
      new Key("data", "feature_scale", "tabular: every feature is multiplied by it (default 1)"),
      new Key("data", "text_column", "sequence_classification, causal_lm: the text column (default text)"),
      new Key("data", "tokenizer", "a folder holding tokenizer.json (default: model.path)"),
      new Key("data", "max_seq_length", "sequence_classification: truncate and pad to this many tokens"
          + " (default 128, as run_glue)"),
      new Key("data", "block_size", "causal_lm: tokens per block after group_texts (default min(1024,"
          + " the tokenizer's model_max_length), as run_clm)"),
      new Key("data", "test_size", "classification: the held-out fraction when there is no eval_file, shuffled"
          + " as datasets' train_test_split (default 0.2)"),
      new Key("data", "validation_split_percentage", "causal_lm: the first percent of the rows become the eval"
          + " rows when there is no eval_file, as run_clm's train[:N%] (default 5)"),
      new Key("data", "split_seed", "the seed of that split (default 42)"),
      new Key("data", "cache_dir", "the Arrow cache folder (default: datasets-arrow's, ~/.cache/sparkformers/datasets)"),
      new Key("data", "use_spark", "load and tokenize as Spark jobs (default true; the cache_dir and tokenizer"
          + " must then be reachable by the executors)"),
      new Key("data", "hadoop", "Hadoop settings for Hadoop URIs, e.g. fs.s3a.endpoint: http://..."));

  static final Set<String> TOP = keysOf("");
  static final Set<String> MODEL = keysOf("model");
  static final Set<String> DATA = keysOf("data");
  static final Set<String> CLASSIFICATION_METRICS = Set.of("accuracy", "f1_macro", "precision_macro",
      "recall_macro", "f1_weighted");
  static final Set<String> LM_METRICS = Set.of("perplexity");

  private static Set<String> keysOf(String section) {
    Set<String> out = new java.util.LinkedHashSet<>();
    KEYS.stream().filter(k -> k.section().equals(section)).forEach(k -> out.add(k.name()));
    return java.util.Collections.unmodifiableSet(out);
  }

  private final String source;
  private final Task task;
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
    trainFiles();
    evalFiles();
    format();
    this.task = root.get("task") != null ? task(root.get("task"))
        : modelConfig != null && modelConfig.get("model_type") != null ? taskOfConfig() : null;
    Set<String> validMetrics = task == Task.CAUSAL_LM ? LM_METRICS
        : task == null ? union(CLASSIFICATION_METRICS, LM_METRICS) : CLASSIFICATION_METRICS;
    List<String> m = new ArrayList<>();
    Object ms = root.get("metrics");
    if (ms instanceof List<?> list) {
      for (Object o : list) {
        String name = String.valueOf(o);
        if (!validMetrics.contains(name)) {
          throw new IllegalArgumentException(source + ": unknown metric '" + name + "'"
              + (task == null ? "" : " for " + task.configName())
              + KeyNames.didYouMean(name, validMetrics) + " (valid: " + new java.util.TreeSet<>(validMetrics) + ")");
        }
        m.add(name);
      }
    } else if (ms != null) {
      throw bad("metrics", "a list of metric names", ms);
    }
    // Every data key's value is checked now, before Spark starts.
    header();
    labelColumn();
    featureColumns();
    featureScale();
    textColumn();
    maxSeqLength();
    blockSize();
    testSize();
    validationSplitPercentage();
    if (task == Task.CAUSAL_LM && data.containsKey("test_size")) {
      throw new IllegalArgumentException(source + ": key 'data.test_size' is for classification; causal_lm holds"
          + " out data.validation_split_percentage of the rows, as run_clm");
    }
    if (task != null && task != Task.CAUSAL_LM && data.containsKey("validation_split_percentage")) {
      throw new IllegalArgumentException(source + ": key 'data.validation_split_percentage' is for causal_lm;"
          + " " + task.configName() + " holds out data.test_size of the rows");
    }
    splitSeed();
    useSpark();
    hadoop();
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
        && (TrainingArguments.keys().contains(key) || KeyNames.nearest(key, TOP) == null)) {
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
        String nearest = KeyNames.nearest(k, valid);
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

  private static Set<String> union(Set<String> a, Set<String> b) {
    Set<String> out = new java.util.LinkedHashSet<>(a);
    out.addAll(b);
    return out;
  }

  private Task task(Object v) {
    for (Task t : Task.values()) {
      if (t.configName().equals(String.valueOf(v))) {
        return t;
      }
    }
    List<String> names = java.util.Arrays.stream(Task.values()).map(Task::configName).toList();
    throw new IllegalArgumentException(source + ": key 'task': expected one of " + names + ", got '" + v + "'"
        + KeyNames.didYouMean(String.valueOf(v), names));
  }

  private Task taskOfConfig() {
    try {
      return taskOf(String.valueOf(modelConfig.get("model_type")));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(source + ": key 'model.config.model_type': " + e.getMessage(), e);
    }
  }

  /** The task a model type trains for when the job file names none. */
  public static Task taskOf(String modelType) {
    return switch (modelType) {
      case "mlp" -> Task.TABULAR_CLASSIFICATION;
      case "bert" -> Task.SEQUENCE_CLASSIFICATION;
      case "gpt2" -> Task.CAUSAL_LM;
      default -> throw new IllegalArgumentException("no task for model_type '" + modelType
          + "': expected mlp, bert or gpt2");
    };
  }

  public String source() { return source; }

  /** The task the file names, or that of model.config's model_type; null when only the model folder says. */
  public Task task() { return task; }

  public String sparkMaster() { return sparkMaster; }
  public int worldSize() { return worldSize; }
  public String modelPath() { return modelPath; }
  public Map<String, Object> modelConfig() { return modelConfig; }
  public List<String> metrics() { return metrics; }
  public Map<String, Object> trainingArgsMap() { return trainingArgs; }

  public TrainingArguments trainingArguments() {
    return TrainingArguments.fromMap(trainingArgs, source + ": training_args");
  }

  /** The train_file locations. */
  public List<String> trainFiles() {
    return locations("train_file");
  }

  /** The eval_file locations, or an empty list. */
  public List<String> evalFiles() {
    return data.get("eval_file") == null ? List.of() : locations("eval_file");
  }

  private List<String> locations(String key) {
    Object v = data.get(key);
    List<String> out = new ArrayList<>();
    if (v instanceof List<?> l) {
      for (Object o : l) {
        if (o == null || o instanceof Map || o instanceof List) {
          throw bad("data." + key, "a path or a list of paths", v);
        }
        out.add(String.valueOf(o));
      }
    } else if (v instanceof Map) {
      throw bad("data." + key, "a path or a list of paths", v);
    } else {
      out.add(String.valueOf(v));
    }
    if (out.isEmpty()) {
      throw bad("data." + key, "a path or a list of paths", v);
    }
    return List.copyOf(out);
  }

  /** data.format, or the format the first train_file's extension names (gz stripped). */
  public DataFormat format() {
    Object f = data.get("format");
    String name;
    if (f != null) {
      name = String.valueOf(f);
    } else {
      String first = trainFiles().get(0);
      String file = first.endsWith(".gz") ? first.substring(0, first.length() - 3) : first;
      int dot = file.lastIndexOf('.');
      int slash = file.lastIndexOf('/');
      if (dot <= slash) {
        throw new IllegalArgumentException(source + ": key 'data.format' is needed: '" + first
            + "' has no extension to tell the format (csv, json, jsonl, parquet, arrow or text)");
      }
      name = file.substring(dot + 1);
      if (name.equals("txt")) {
        name = "text";
      }
    }
    try {
      return DataFormat.parse(name);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(source + ": key 'data.format'" + (f == null ? " (from the train_file's"
          + " extension)" : "") + ": " + e.getMessage(), e);
    }
  }

  public boolean header() {
    return bool("header", true);
  }

  public String labelColumn() {
    return string("label_column", "label");
  }

  public String textColumn() {
    return string("text_column", "text");
  }

  /** data.tokenizer, or model.path; null when neither is given. */
  public String tokenizer() {
    return data.get("tokenizer") != null ? string("tokenizer", null) : modelPath;
  }

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
    Object v = data.getOrDefault("feature_scale", 1);
    try {
      float x = Float.parseFloat(String.valueOf(v));
      if (Float.isFinite(x)) {
        return x;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw bad("data.feature_scale", "a finite number", v);
  }

  public int maxSeqLength() {
    return positive("max_seq_length", 128);
  }

  /** data.block_size, or null for run_clm's default. */
  public Integer blockSize() {
    return data.get("block_size") == null ? null : positive("block_size", 0);
  }

  public double testSize() {
    Object v = data.getOrDefault("test_size", "0.2");
    double t;
    try {
      t = Double.parseDouble(String.valueOf(v));
    } catch (NumberFormatException e) {
      throw bad("data.test_size", "a fraction in (0, 1)", v);
    }
    if (!(t > 0 && t < 1)) {
      throw bad("data.test_size", "a fraction in (0, 1)", v);
    }
    return t;
  }

  /** run_clm's validation_split_percentage (default 5), an integer percent in [1, 99]. */
  public int validationSplitPercentage() {
    Object v = data.getOrDefault("validation_split_percentage", 5);
    try {
      int p = v instanceof Integer i ? i : Integer.parseInt(String.valueOf(v).trim());
      if (p >= 1 && p <= 99) {
        return p;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw bad("data.validation_split_percentage", "an integer percent from 1 to 99", v);
  }

  /** Checks that the metrics suit the task (when the task was known only from the model folder). */
  public void checkMetrics(Task resolved) {
    Set<String> valid = resolved == Task.CAUSAL_LM ? LM_METRICS : CLASSIFICATION_METRICS;
    for (String m : metrics) {
      if (!valid.contains(m)) {
        throw new IllegalArgumentException(source + ": unknown metric '" + m + "' for " + resolved.configName()
            + KeyNames.didYouMean(m, valid) + " (valid: " + new java.util.TreeSet<>(valid) + ")");
      }
    }
  }

  public long splitSeed() {
    Object v = data.getOrDefault("split_seed", "42");
    try {
      return Long.parseLong(String.valueOf(v).trim());
    } catch (NumberFormatException e) {
      throw bad("data.split_seed", "an integer", v);
    }
  }

  /** data.cache_dir, or null for datasets-arrow's default. */
  public String cacheDir() {
    return data.get("cache_dir") == null ? null : String.valueOf(data.get("cache_dir"));
  }

  public boolean useSpark() {
    return bool("use_spark", true);
  }

  /** data.hadoop: Hadoop settings as strings. */
  public Map<String, String> hadoop() {
    Object v = data.get("hadoop");
    if (v == null) {
      return Map.of();
    }
    if (!(v instanceof Map<?, ?> m)) {
      throw bad("data.hadoop", "a mapping of Hadoop settings", v);
    }
    Map<String, String> out = new java.util.TreeMap<>();
    m.forEach((k, x) -> out.put(String.valueOf(k), String.valueOf(x)));
    return out;
  }

  private String string(String key, String fallback) {
    Object v = data.get(key);
    if (v == null) {
      return fallback;
    }
    if (v instanceof Map || v instanceof List) {
      throw bad("data." + key, "a name", v);
    }
    return String.valueOf(v);
  }

  private boolean bool(String key, boolean fallback) {
    Object v = data.get(key);
    if (v == null) {
      return fallback;
    }
    if (v instanceof Boolean b) {
      return b;
    }
    String s = String.valueOf(v).trim().toLowerCase(java.util.Locale.ROOT);
    if (s.equals("true") || s.equals("false")) {
      return Boolean.parseBoolean(s);
    }
    throw bad("data." + key, "true or false", v);
  }

  private int positive(String key, int fallback) {
    Object v = data.get(key);
    if (v == null) {
      return fallback;
    }
    try {
      int n = v instanceof Integer i ? i : Integer.parseInt(String.valueOf(v).trim());
      if (n > 0) {
        return n;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw bad("data." + key, "a positive integer", v);
  }
}
