package io.sparkformers.jobs.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.sparkformers.accelerate.DeviceSelection;
import io.sparkformers.accelerate.ProcessGroupOptions;
import io.sparkformers.config.ConfigDef;
import io.sparkformers.config.ConfigKey;
import io.sparkformers.config.ConfigType;
import io.sparkformers.config.ConfigTypes;
import io.sparkformers.config.KeyNames;
import io.sparkformers.config.Validator;
import io.sparkformers.training.TrainingArguments;
import io.sparkformers.training.models.AutoConfig;
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
 * dataset files and columns, the metrics, the {@code training_args} (TrainingArguments' snake_case keys) and the
 * {@code process_group} options. Every key is declared once ({@link #definitions()}: type, default, validator,
 * documentation); every key is checked against the declarations, and an unknown one is an error naming the
 * nearest valid key. Immutable and serialisable: it travels to the ranks.
 */
public final class JobConfig implements Serializable {
  private static final long serialVersionUID = 1L;

  /** One key of a job file: its section ("" for the top level) and its declaration. */
  public record Key(String section, ConfigKey<?> definition) {
    public String name() {
      return definition.name();
    }

    public String doc() {
      return definition.doc();
    }

    public String path() {
      return definition.path();
    }
  }

  /** The tasks a job trains for. */
  public enum Task {
    /** Numeric feature columns and a class label, for an {@code mlp}. */
    TABULAR_CLASSIFICATION,
    /** A text column and a class label, for a {@code bert} (transformers' run_glue). */
    SEQUENCE_CLASSIFICATION,
    /** A text column (or pre-tokenized input_ids) grouped into blocks, for a causal LM (transformers' run_clm). */
    CAUSAL_LM,
    /**
     * Supervised fine-tuning of a causal LM on chats ({@code messages}), {@code prompt} + {@code completion} or
     * {@code text} rows, as TRL's SFTTrainer.
     */
    SFT;

    public String configName() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  // ---- the keys of a job file, each declared once

  private static final ConfigType<Task> TASK_TYPE = ConfigTypes.simple("enum: " + String.join(", ", taskNames()),
      "one of " + taskNames(), raw -> {
        for (Task t : Task.values()) {
          if (t.configName().equals(String.valueOf(raw))) {
            return t;
          }
        }
        throw new ConfigType.Mismatch("expected one of " + taskNames() + ", got '" + raw + "'"
            + KeyNames.didYouMean(String.valueOf(raw), taskNames()));
      });

  /** One location or a non-empty list of them. */
  private static final ConfigType<List<String>> LOCATIONS = ConfigTypes.simple("path or list", "a path or a list"
      + " of paths", raw -> {
        List<String> out = new ArrayList<>();
        if (raw instanceof List<?> l) {
          for (Object o : l) {
            if (o == null || o instanceof Map || o instanceof List) {
              throw new ConfigType.Mismatch(null);
            }
            out.add(String.valueOf(o));
          }
        } else if (raw instanceof Map) {
          throw new ConfigType.Mismatch(null);
        } else {
          out.add(String.valueOf(raw));
        }
        if (out.isEmpty()) {
          throw new ConfigType.Mismatch(null);
        }
        return List.copyOf(out);
      });

  private static final ConfigDef TOP_DEF = new ConfigDef("");
  private static final ConfigDef MODEL_DEF = new ConfigDef("model");
  private static final ConfigDef DATA_DEF = new ConfigDef("data");

  private static final ConfigKey<Task> TASK = TOP_DEF.define(ConfigKey.builder("task", TASK_TYPE)
      .defaultDoc("from the model's model_type: mlp, bert, or a causal LM (causal_lm); sft is always named")
      .doc("the task: tabular_classification (mlp), sequence_classification (bert, as run_glue), causal_lm"
          + " (gpt2, llama, qwen2, mistral, as run_clm) or sft (a causal LM, as TRL's SFTTrainer)"));
  private static final ConfigKey<String> SPARK_MASTER = TOP_DEF.define(
      ConfigKey.builder("spark_master", ConfigTypes.STRING).defaultDoc("local[world_size]")
          .doc("the Spark master of an embedded Spark; ignored under spark-submit, which sets it"));
  private static final ConfigKey<Integer> WORLD_SIZE = TOP_DEF.define(
      ConfigKey.builder("world_size", ConfigTypes.INT).defaultValue(1).validator(Validator.positive())
          .expected("a positive integer").doc("data-parallel ranks, one Spark barrier task each"));
  private static final ConfigKey<DeviceSelection.Mode> DEVICE = TOP_DEF.define(
      ConfigKey.builder("device", ConfigTypes.enumOf(DeviceSelection.Mode.class))
          .defaultValue(DeviceSelection.Mode.AUTO)
          .doc("where each rank trains: auto (the GPU its Spark task was given through"
              + " spark.task.resource.gpu.amount, else the CPU), cpu, or cuda (that GPU; a rank without one fails)"));
  private static final ConfigKey<Map<String, Object>> MODEL_SECTION = TOP_DEF.define(
      ConfigKey.builder("model", ConfigTypes.MAP).required().doc("the model section (model.*)"));
  private static final ConfigKey<Map<String, Object>> DATA_SECTION = TOP_DEF.define(
      ConfigKey.builder("data", ConfigTypes.MAP).required().doc("the dataset section (data.*)"));
  private static final ConfigKey<List<String>> METRICS = TOP_DEF.define(
      ConfigKey.builder("metrics", ConfigTypes.STRING_LIST).expected("a list of metric names")
          .defaultDoc("none").doc("metric names: accuracy, f1_macro, precision_macro, recall_macro, f1_weighted"
              + " (classification), perplexity (causal_lm)"));
  private static final ConfigKey<Map<String, Object>> TRAINING_ARGS = TOP_DEF.define(
      ConfigKey.builder("training_args", ConfigTypes.MAP).defaultDoc("transformers' defaults")
          .doc("TrainingArguments, snake_case as in transformers (training_args.*)"));
  private static final ConfigKey<Map<String, Object>> PROCESS_GROUP = TOP_DEF.define(
      ConfigKey.builder("process_group", ConfigTypes.MAP).defaultDoc("the defaults")
          .doc("options of the process group the ranks all-reduce through (process_group.*)"));

  private static final ConfigKey<Map<String, Object>> PEFT = TOP_DEF.define(
      ConfigKey.builder("peft", ConfigTypes.MAP).defaultDoc("none (full fine-tuning)")
          .doc("LoRA for causal_lm and sft: PEFT's LoraConfig keys (r, lora_alpha, lora_dropout, target_modules,"
              + " bias, modules_to_save, use_rslora, init_lora_weights), plus adapter_path to continue training a"
              + " saved adapter; only the adapter is trained, all-reduced, checkpointed and saved"));

  private static final ConfigKey<String> MODEL_PATH = MODEL_DEF.define(ConfigKey.builder("path", ConfigTypes.STRING)
      .defaultDoc("none (give path or config)")
      .doc("a Hugging Face model folder (config.json, model.safetensors)"));
  private static final ConfigKey<Map<String, Object>> MODEL_CONFIG = MODEL_DEF.define(
      ConfigKey.builder("config", ConfigTypes.MAP).defaultDoc("none (give path or config)")
          .doc("a config.json as a map (a new model, initialised from the seed)"));

  private static final ConfigKey<List<String>> TRAIN_FILE = DATA_DEF.define(
      ConfigKey.builder("train_file", LOCATIONS).defaultDoc("required")
          .doc("a path, glob, folder or Hadoop URI (s3a://...), or a list of them; classpath:/... for a file in"
              + " the jar"));
  private static final ConfigKey<List<String>> EVAL_FILE = DATA_DEF.define(
      ConfigKey.builder("eval_file", LOCATIONS).defaultDoc("a split of the training rows")
          .doc("as train_file; without it, the training rows are split (test_size, or validation_split_percentage"
              + " for causal_lm)"));
  private static final ConfigKey<String> FORMAT = DATA_DEF.define(ConfigKey.builder("format", ConfigTypes.STRING)
      .defaultDoc("the train_file's extension")
      .doc("csv, json, jsonl, parquet, arrow or text"));
  private static final ConfigKey<Boolean> HEADER = DATA_DEF.define(ConfigKey.builder("header", ConfigTypes.BOOLEAN)
      .defaultValue(true)
      .doc("csv: whether the first row names the columns (without one the columns are column_0, column_1, ...)"));
  private static final ConfigKey<String> LABEL_COLUMN = DATA_DEF.define(
      ConfigKey.builder("label_column", ConfigTypes.STRING).defaultValue("label")
          .expected("a name")
          .doc("the class column: integers are class ids, strings are sorted and numbered as run_glue does"));
  private static final ConfigKey<List<String>> FEATURE_COLUMNS = DATA_DEF.define(
      ConfigKey.builder("feature_columns", ConfigTypes.STRING_LIST)
          .expected("a list of column names").defaultDoc("every numeric column but the label")
          .doc("tabular: the numeric feature columns"));
  private static final ConfigKey<Double> FEATURE_SCALE = DATA_DEF.define(
      ConfigKey.builder("feature_scale", ConfigTypes.DOUBLE).defaultValue(1.0)
          .validator(Validator.of("finite", (Double v) -> Float.isFinite(v.floatValue())))
          .expected("a finite number").doc("tabular: every feature is multiplied by it"));
  private static final ConfigKey<String> TEXT_COLUMN = DATA_DEF.define(
      ConfigKey.builder("text_column", ConfigTypes.STRING).defaultValue("text")
          .expected("a name").doc("sequence_classification, causal_lm, sft: the text column"));
  private static final ConfigKey<String> TOKENIZER = DATA_DEF.define(
      ConfigKey.builder("tokenizer", ConfigTypes.STRING).expected("a name")
          .defaultDoc("model.path").doc("a folder holding tokenizer.json"));
  private static final ConfigKey<Integer> MAX_SEQ_LENGTH = DATA_DEF.define(
      ConfigKey.builder("max_seq_length", ConfigTypes.INT).defaultValue(128)
          .validator(Validator.positive()).expected("a positive integer")
          .doc("sequence_classification: truncate and pad to this many tokens (as run_glue); sft: truncate each"
              + " example to this many tokens, keeping its start (TRL's max_length)"));
  private static final ConfigKey<String> MESSAGES_COLUMN = DATA_DEF.define(
      ConfigKey.builder("messages_column", ConfigTypes.STRING).defaultValue("messages").expected("a name")
          .doc("sft: the conversation column, a list of {role, content} (in JSON lines, or its JSON text),"
              + " rendered with the tokenizer's chat template"));
  private static final ConfigKey<String> PROMPT_COLUMN = DATA_DEF.define(
      ConfigKey.builder("prompt_column", ConfigTypes.STRING).defaultValue("prompt").expected("a name")
          .doc("sft: the prompt column of prompt-completion rows"));
  private static final ConfigKey<String> COMPLETION_COLUMN = DATA_DEF.define(
      ConfigKey.builder("completion_column", ConfigTypes.STRING).defaultValue("completion").expected("a name")
          .doc("sft: the completion column of prompt-completion rows (eos is appended unless it ends with it)"));
  private static final ConfigKey<Boolean> COMPLETION_ONLY_LOSS = DATA_DEF.define(
      ConfigKey.builder("completion_only_loss", ConfigTypes.BOOLEAN).defaultValue(true)
          .doc("sft, prompt-completion rows: the loss is taken on the completion's tokens only (as TRL)"));
  private static final ConfigKey<Boolean> ASSISTANT_ONLY_LOSS = DATA_DEF.define(
      ConfigKey.builder("assistant_only_loss", ConfigTypes.BOOLEAN).defaultValue(true)
          .doc("sft, conversations: the loss is taken on the assistant's tokens only: the template's"
              + " {% generation %} blocks, or without them what each assistant message adds to the rendering"
              + " (TRL's default is false)"));
  private static final ConfigKey<Boolean> PACKING = DATA_DEF.define(
      ConfigKey.builder("packing", ConfigTypes.BOOLEAN).defaultValue(false)
          .doc("sft: pack several examples into one row; not supported (true is an error): the models' attention"
              + " mask is per token, not per example, so packed examples would attend to each other"));
  private static final ConfigKey<Integer> BLOCK_SIZE = DATA_DEF.define(
      ConfigKey.builder("block_size", ConfigTypes.INT).validator(Validator.positive())
          .expected("a positive integer").defaultDoc("min(1024, the tokenizer's model_max_length)")
          .doc("causal_lm: tokens per block after group_texts (as run_clm)"));
  private static final ConfigKey<Double> TEST_SIZE = DATA_DEF.define(
      ConfigKey.builder("test_size", ConfigTypes.DOUBLE).defaultValue(0.2)
          .validator(Validator.of("in (0, 1)", (Double t) -> t > 0 && t < 1)).expected("a fraction in (0, 1)")
          .doc("classification, sft: the held-out fraction when there is no eval_file, shuffled as datasets'"
              + " train_test_split"));
  private static final ConfigKey<Integer> VALIDATION_SPLIT_PERCENTAGE = DATA_DEF.define(
      ConfigKey.builder("validation_split_percentage", ConfigTypes.INT).defaultValue(5)
          .validator(Validator.between(1, 99)).expected("an integer percent from 1 to 99")
          .doc("causal_lm: the first percent of the rows become the eval rows when there is no eval_file, as"
              + " run_clm's train[:N%]"));
  private static final ConfigKey<Long> SPLIT_SEED = DATA_DEF.define(ConfigKey.builder("split_seed", ConfigTypes.LONG)
      .defaultValue(42L).doc("the seed of that split"));
  private static final ConfigKey<String> CACHE_DIR = DATA_DEF.define(ConfigKey.builder("cache_dir", ConfigTypes.STRING)
      .defaultDoc("~/.cache/sparkformers/datasets (datasets-arrow's)")
      .doc("the Arrow cache folder; with use_spark also where the prepared rows of every task are kept as"
          + " fingerprinted Arrow shards (prepared/<fingerprint>/), reused by a run with the same inputs and"
          + " settings and read by each rank for its own train and eval rows: a folder every executor reaches or"
          + " a Hadoop URI (s3a://..., whose loaders' cache then stays in the default folder)"));
  private static final ConfigKey<Boolean> USE_SPARK = DATA_DEF.define(
      ConfigKey.builder("use_spark", ConfigTypes.BOOLEAN).defaultValue(true)
          .doc("load and tokenize as Spark jobs (the cache_dir and tokenizer must then be reachable by the"
              + " executors)"));
  private static final ConfigKey<Map<String, Object>> HADOOP = DATA_DEF.define(
      ConfigKey.builder("hadoop", ConfigTypes.MAP).expected("a mapping of Hadoop settings")
          .defaultDoc("none").doc("Hadoop settings for Hadoop URIs, e.g. fs.s3a.endpoint: http://..."));

  private static final ConfigKey<Boolean> STREAMING = DATA_DEF.define(
      ConfigKey.builder("streaming", ConfigTypes.BOOLEAN).defaultValue(false)
          .doc("causal_lm: read the train files lazily on the ranks (datasets' streaming=True): each rank reads"
              + " its share of a seeded shuffle buffer's stream (split_dataset_by_node), tokenizes and groups it;"
              + " needs max_steps, evaluates nothing; each checkpoint holds every rank's stream position"
              + " (data_state_<rank>.json), from which a resumed run on as many ranks continues"));
  private static final ConfigKey<Integer> SHUFFLE_BUFFER_SIZE = DATA_DEF.define(
      ConfigKey.builder("shuffle_buffer_size", ConfigTypes.INT).defaultValue(1000).validator(Validator.positive())
          .doc("streaming: the shuffle buffer's rows (IterableDataset.shuffle(seed=data_seed, buffer_size),"
              + " which also shuffles the files); 1 reads the files in order, unshuffled"));

  static {
    TOP_DEF.seal();
    MODEL_DEF.seal();
    DATA_DEF.seal();
  }

  /** Every key a job file may hold but training_args' (TrainingArguments' keys, checked by it). */
  public static final List<Key> KEYS = keys();

  static final Set<String> TOP = TOP_DEF.names();
  static final Set<String> MODEL_KEYS = MODEL_DEF.names();
  static final Set<String> DATA = DATA_DEF.names();
  static final Set<String> CLASSIFICATION_METRICS = Set.of("accuracy", "f1_macro", "precision_macro",
      "recall_macro", "f1_weighted");
  static final Set<String> LM_METRICS = Set.of("perplexity");

  /**
   * The declarations of every section's keys, in the order of the documentation: the top level, model, data,
   * process_group, training_args.
   */
  public static List<ConfigDef> definitions() {
    return List.of(TOP_DEF, MODEL_DEF, DATA_DEF, ProcessGroupOptions.definition(), TrainingArguments.definition());
  }

  private static List<Key> keys() {
    List<Key> out = new ArrayList<>();
    for (ConfigDef def : List.of(TOP_DEF, MODEL_DEF, DATA_DEF, ProcessGroupOptions.definition())) {
      def.keys().forEach(k -> out.add(new Key(def.prefix(), k)));
    }
    return List.copyOf(out);
  }

  private static List<String> taskNames() {
    return java.util.Arrays.stream(Task.values()).map(Task::configName).toList();
  }

  private final String source;
  private final Task task;
  private final String sparkMaster;
  private final int worldSize;
  private final DeviceSelection.Mode device;
  private final String modelPath;
  private final Map<String, Object> modelConfig;
  /** The data section's values by key name, defaults filled in. */
  private final Map<String, Object> data;
  private final List<String> metrics;
  private final Map<String, Object> trainingArgs;
  private final ProcessGroupOptions processGroup;
  /** The peft section without adapter_path (LoraConfig keys), or null for full fine-tuning. */
  private final Map<String, Object> peft;
  private final String adapterPath;

  private JobConfig(String source, Map<String, Object> root) {
    this.source = source;
    for (String k : root.keySet()) {
      TOP_DEF.require(source, k);
    }
    if (root.get("model") == null || root.get("data") == null) {
      throw new IllegalArgumentException(source + ": section '" + (root.get("model") == null ? "model" : "data")
          + "' is required");
    }
    ConfigDef.Values top = TOP_DEF.parse(source, root);
    this.sparkMaster = top.get(SPARK_MASTER);
    this.worldSize = top.get(WORLD_SIZE);
    this.device = top.get(DEVICE);
    ConfigDef.Values model = MODEL_DEF.parse(source, top.get(MODEL_SECTION));
    this.modelPath = model.get(MODEL_PATH);
    this.modelConfig = model.get(MODEL_CONFIG);
    if ((modelPath == null) == (modelConfig == null)) {
      throw new IllegalArgumentException(source + ": model needs exactly one of 'path' (a Hugging Face model"
          + " folder) or 'config' (a config.json as a map)");
    }
    Map<String, Object> rawData = top.get(DATA_SECTION);
    this.data = new LinkedHashMap<>(DATA_DEF.parse(source, rawData).asMap());
    if (data.get("train_file") == null) {
      throw new IllegalArgumentException(source + ": data.train_file is required");
    }
    format();
    this.task = top.get(TASK) != null ? top.get(TASK)
        : modelConfig != null && modelConfig.get("model_type") != null ? taskOfConfig() : null;
    Set<String> validMetrics = task == Task.CAUSAL_LM || task == Task.SFT ? LM_METRICS
        : task == null ? union(CLASSIFICATION_METRICS, LM_METRICS) : CLASSIFICATION_METRICS;
    List<String> m = top.get(METRICS) == null ? List.of() : top.get(METRICS);
    for (String name : m) {
      if (!validMetrics.contains(name)) {
        throw new IllegalArgumentException(source + ": unknown metric '" + name + "'"
            + (task == null ? "" : " for " + task.configName())
            + KeyNames.didYouMean(name, validMetrics) + " (valid: " + new java.util.TreeSet<>(validMetrics) + ")");
      }
    }
    if (task == Task.CAUSAL_LM && rawData.containsKey("test_size")) {
      throw new IllegalArgumentException(source + ": key 'data.test_size' is for classification; causal_lm holds"
          + " out data.validation_split_percentage of the rows, as run_clm");
    }
    if (task != null && task != Task.CAUSAL_LM && rawData.containsKey("validation_split_percentage")) {
      throw new IllegalArgumentException(source + ": key 'data.validation_split_percentage' is for causal_lm;"
          + " " + task.configName() + " holds out data.test_size of the rows");
    }
    if (Boolean.TRUE.equals(data.get(PACKING.name()))) {
      throw new IllegalArgumentException(source + ": key 'data.packing': packing is not supported: the models take"
          + " an attention mask per token, not per example, so examples packed into one row would attend to each"
          + " other; set data.packing: false (rows are padded instead)");
    }
    this.metrics = List.copyOf(m);
    this.trainingArgs = top.get(TRAINING_ARGS) == null ? Map.of() : top.get(TRAINING_ARGS);
    Map<String, Object> pg = top.get(PROCESS_GROUP);
    this.processGroup = ProcessGroupOptions.fromMap(pg == null ? Map.of() : pg, source);
    // Fail now, before Spark starts, on any bad training argument.
    TrainingArguments.fromMap(trainingArgs, source + ": training_args");
    Map<String, Object> peftSection = top.get(PEFT);
    if (peftSection != null) {
      if (task != null && task != Task.CAUSAL_LM && task != Task.SFT) {
        throw new IllegalArgumentException(source + ": key 'peft': LoRA is for causal_lm and sft jobs, the task is "
            + task.configName());
      }
      Map<String, Object> lora = new LinkedHashMap<>(peftSection);
      Object path = lora.remove("adapter_path");
      if (path != null && !(path instanceof String)) {
        throw new IllegalArgumentException(source + ": key 'peft.adapter_path': expected a folder, got " + path);
      }
      this.adapterPath = (String) path;
      this.peft = java.util.Collections.unmodifiableMap(lora);
      if (adapterPath == null) {
        lora();  // fail now on a bad LoRA key
      } else if (!lora.isEmpty()) {
        throw new IllegalArgumentException(source + ": key 'peft': with adapter_path the adapter's own"
            + " adapter_config.json sets the LoRA options; remove " + lora.keySet());
      }
    } else {
      this.peft = null;
      this.adapterPath = null;
    }
  }

  /** The LoRA options of the peft section (adapter_path aside), or null for full fine-tuning. */
  public io.sparkformers.training.peft.LoraConfig lora() {
    if (peft == null || adapterPath != null) {
      return null;
    }
    try {
      return io.sparkformers.training.peft.LoraConfig.fromMap(peft);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(source + ": key 'peft': " + e.getMessage(), e);
    }
  }

  /** peft.adapter_path: a saved adapter to continue training, or null. */
  public String adapterPath() {
    return adapterPath;
  }

  /** Whether the job trains a LoRA adapter instead of the full model. */
  public boolean usesPeft() {
    return peft != null;
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
    // model.path and model.config are the two ways to name the model: setting one replaces the file's other.
    if (path.length == 2 && path[0].equals("model") && (path[1].equals("path") || path[1].equals("config"))
        && value != null) {
      m.remove(path[1].equals("path") ? "config" : "path");
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

  private static Set<String> union(Set<String> a, Set<String> b) {
    Set<String> out = new java.util.LinkedHashSet<>(a);
    out.addAll(b);
    return out;
  }

  private Task taskOfConfig() {
    try {
      return taskOf(String.valueOf(modelConfig.get("model_type")));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(source + ": key 'model.config.model_type': " + e.getMessage(), e);
    }
  }

  /**
   * The task a model type trains for when the job file names none: mlp → tabular_classification, bert →
   * sequence_classification, any registered causal LM (gpt2, llama, qwen2, mistral, ...) → causal_lm.
   */
  public static Task taskOf(String modelType) {
    return switch (modelType) {
      case "mlp" -> Task.TABULAR_CLASSIFICATION;
      case "bert" -> Task.SEQUENCE_CLASSIFICATION;
      default -> {
        if (AutoConfig.isCausalLm(modelType)) {
          yield Task.CAUSAL_LM;
        }
        throw new IllegalArgumentException("no task for model_type '" + modelType + "': expected mlp, bert or a"
            + " causal language model (" + String.join(", ", AutoConfig.modelTypes().stream()
                .filter(AutoConfig::isCausalLm).toList()) + ")");
      }
    };
  }

  public String source() { return source; }

  /** The task the file names, or that of model.config's model_type; null when only the model folder says. */
  public Task task() { return task; }

  public String sparkMaster() { return sparkMaster; }
  public int worldSize() { return worldSize; }
  public DeviceSelection.Mode device() { return device; }
  public String modelPath() { return modelPath; }
  public Map<String, Object> modelConfig() { return modelConfig; }
  public List<String> metrics() { return metrics; }
  public Map<String, Object> trainingArgsMap() { return trainingArgs; }

  public TrainingArguments trainingArguments() {
    return TrainingArguments.fromMap(trainingArgs, source + ": training_args");
  }

  /**
   * The options of the process group the ranks open: the {@code process_group} section, with the training
   * arguments' {@code ddp_backend} and {@code ddp_timeout} as its backend and collective timeout.
   */
  public ProcessGroupOptions processGroupOptions() {
    TrainingArguments args = trainingArguments();
    return processGroup.toBuilder().backend(args.ddpBackend() == null ? "auto" : args.ddpBackend().value())
        .timeout(java.time.Duration.ofSeconds(args.ddpTimeout())).build();
  }

  @SuppressWarnings("unchecked")
  private <T> T data(ConfigKey<T> key) {
    return (T) data.get(key.name());
  }

  /** The train_file locations. */
  public List<String> trainFiles() {
    return data(TRAIN_FILE);
  }

  /** The eval_file locations, or an empty list. */
  public List<String> evalFiles() {
    return data(EVAL_FILE) == null ? List.of() : data(EVAL_FILE);
  }

  /** data.format, or the format the first train_file's extension names (gz stripped). */
  public DataFormat format() {
    String f = data(FORMAT);
    String name;
    if (f != null) {
      name = f;
    } else {
      String first = trainFiles().get(0);
      name = extensionFormat(first);
      if (name == null) {
        throw new IllegalArgumentException(source + ": key 'data.format' is needed: '" + first
            + "' has no extension to tell the format (csv, json, jsonl, parquet, arrow or text)");
      }
    }
    try {
      return DataFormat.parse(name);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(source + ": key 'data.format'" + (f == null ? " (from the train_file's"
          + " extension)" : "") + ": " + e.getMessage(), e);
    }
  }

  /** The format name a location's extension gives (.gz stripped, txt as text), or null when it has none. */
  public static String extensionFormat(String location) {
    String file = location.endsWith(".gz") ? location.substring(0, location.length() - 3) : location;
    int dot = file.lastIndexOf('.');
    int slash = file.lastIndexOf('/');
    if (dot <= slash) {
      return null;
    }
    String name = file.substring(dot + 1);
    return name.equals("txt") ? "text" : name;
  }

  public boolean header() {
    return data(HEADER);
  }

  public String labelColumn() {
    return data(LABEL_COLUMN);
  }

  public String textColumn() {
    return data(TEXT_COLUMN);
  }

  /** data.tokenizer, or model.path; null when neither is given. */
  public String tokenizer() {
    return data(TOKENIZER) != null ? data(TOKENIZER) : modelPath;
  }

  /** data.feature_columns, or an empty list for every numeric column but the label. */
  public List<String> featureColumns() {
    return data(FEATURE_COLUMNS) == null ? List.of() : data(FEATURE_COLUMNS);
  }

  public float featureScale() {
    return data(FEATURE_SCALE).floatValue();
  }

  public String messagesColumn() {
    return data(MESSAGES_COLUMN);
  }

  public String promptColumn() {
    return data(PROMPT_COLUMN);
  }

  public String completionColumn() {
    return data(COMPLETION_COLUMN);
  }

  public boolean completionOnlyLoss() {
    return data(COMPLETION_ONLY_LOSS);
  }

  public boolean assistantOnlyLoss() {
    return data(ASSISTANT_ONLY_LOSS);
  }

  public int maxSeqLength() {
    return data(MAX_SEQ_LENGTH);
  }

  /** data.block_size, or null for run_clm's default. */
  public Integer blockSize() {
    return data(BLOCK_SIZE);
  }

  public double testSize() {
    return data(TEST_SIZE);
  }

  /** run_clm's validation_split_percentage, an integer percent in [1, 99]. */
  public int validationSplitPercentage() {
    return data(VALIDATION_SPLIT_PERCENTAGE);
  }

  /** Checks that the metrics suit the task (when the task was known only from the model folder). */
  public void checkMetrics(Task resolved) {
    Set<String> valid = resolved == Task.CAUSAL_LM || resolved == Task.SFT ? LM_METRICS : CLASSIFICATION_METRICS;
    for (String m : metrics) {
      if (!valid.contains(m)) {
        throw new IllegalArgumentException(source + ": unknown metric '" + m + "' for " + resolved.configName()
            + KeyNames.didYouMean(m, valid) + " (valid: " + new java.util.TreeSet<>(valid) + ")");
      }
    }
  }

  public long splitSeed() {
    return data(SPLIT_SEED);
  }

  /** data.cache_dir, or null for datasets-arrow's default. */
  public String cacheDir() {
    return data(CACHE_DIR);
  }

  public boolean useSpark() {
    return data(USE_SPARK);
  }

  /** data.streaming: the ranks read the train files lazily. */
  public boolean streaming() {
    return data(STREAMING);
  }

  public int shuffleBufferSize() {
    return data(SHUFFLE_BUFFER_SIZE);
  }

  /** data.hadoop: Hadoop settings as strings. */
  public Map<String, String> hadoop() {
    Map<String, Object> m = data(HADOOP);
    if (m == null) {
      return Map.of();
    }
    Map<String, String> out = new java.util.TreeMap<>();
    m.forEach((k, x) -> out.put(k, String.valueOf(x)));
    return out;
  }
}
