package io.sparkformers.jobs.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparkformers.datasets.DataFormat;
import io.sparkformers.datasets.internal.InputFiles;
import io.sparkformers.training.models.AutoConfig;
import io.sparkformers.training.models.ModelConfig;
import io.sparkformers.training.models.SafeTensorsFile;
import io.sparkformers.training.models.internal.Checkpoint;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.SparkConf;

/**
 * The checks a train job runs on the driver before any Spark starts: each input error that would otherwise show
 * only after Spark started (seconds to minutes later, on an executor, retried by Spark as if it could go away)
 * becomes one line naming the key, file and what was expected. It reads only what is cheap: the master's
 * name, folder listings, {@code config.json}, safetensors headers and the first lines of CSV and JSON files.
 * A missing file or folder is an {@link InputMissingException}, a job file that cannot work anywhere (a
 * {@code world_size} the master never gives) a {@link io.sparkformers.jobs.UsageException}; other problems are
 * {@link IllegalArgumentException}s.
 */
public final class Preflight {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Preflight.class);

  private Preflight() {}

  /** JSON lines files up to this size are read whole for their columns; larger ones are not checked. */
  static final long JSON_COLUMNS_LIMIT = 4L << 20;

  private static final Pattern LOCAL = Pattern.compile("local(?:\\[(\\*|\\d+)(?:,\\s*\\d+)?])?");
  private static final Pattern LOCAL_CLUSTER = Pattern.compile("local-cluster\\[\\s*(\\d+)\\s*,\\s*(\\d+)\\s*,"
      + "\\s*\\d+\\s*]");

  /**
   * Checks a job that is about to start its own Spark (or run under spark-submit, whose master {@code conf}
   * holds), then applies {@code overwrite_output_dir}.
   */
  public static void beforeLaunch(JobConfig job, SparkConf conf) {
    String master = conf.contains("spark.master") ? conf.get("spark.master")
        : job.sparkMaster() != null ? job.sparkMaster() : "local[" + job.worldSize() + "]";
    check(job, master, conf);
    OutputDir.prepare(job.trainingArguments(), job.hadoop(), job.source());
  }

  /** Every check but the output folder's, in the order a user would fix them. */
  static void check(JobConfig job, String master, SparkConf conf) {
    checkWorldSize(job.worldSize(), master, conf, job.source());
    ModelConfig model = checkModel(job);
    JobConfig.Task task = job.task() != null ? job.task() : JobConfig.taskOf(model.modelType());
    if (task != JobConfig.Task.TABULAR_CLASSIFICATION) {
      checkTokenizer(job);
    }
    checkData(job, task);
  }

  // ------------------------------------------------------------------------------------------ world size

  /**
   * The task slots a master can ever give, or -1 when only a running cluster knows: {@code local[N]} → N,
   * {@code local[*]} → this machine's cores, {@code local-cluster[n,c,m]} → n × c, each divided by
   * {@code spark.task.cpus}.
   */
  static int maxSlots(String master, SparkConf conf) {
    int taskCpus = Math.max(1, conf.getInt("spark.task.cpus", 1));
    Matcher local = LOCAL.matcher(master.trim());
    if (local.matches()) {
      String n = local.group(1);
      int cores = n == null ? 1 : n.equals("*") ? Runtime.getRuntime().availableProcessors() : Integer.parseInt(n);
      return cores / taskCpus;
    }
    Matcher cluster = LOCAL_CLUSTER.matcher(master.trim());
    if (cluster.matches()) {
      return Integer.parseInt(cluster.group(1)) * (Integer.parseInt(cluster.group(2)) / taskCpus);
    }
    // A real cluster: executors register later and may come and go. Only a fixed allocation bounds it.
    if (!conf.getBoolean("spark.dynamicAllocation.enabled", false) && conf.contains("spark.executor.instances")
        && conf.contains("spark.executor.cores")) {
      return conf.getInt("spark.executor.instances", 0) * (conf.getInt("spark.executor.cores", 1) / taskCpus);
    }
    return -1;
  }

  static void checkWorldSize(int worldSize, String master, SparkConf conf, String source) {
    int slots = maxSlots(master, conf);
    if (slots < 0) {
      LOG.info("world_size {} on master {}: its task slots are known only once executors register; the barrier"
          + " stage starts when {} are free at once", worldSize, master, worldSize);
      return;
    }
    if (worldSize > slots) {
      int taskCpus = Math.max(1, conf.getInt("spark.task.cpus", 1));
      throw new io.sparkformers.jobs.UsageException(source + ": key 'world_size': " + worldSize + " ranks need " + worldSize
          + " task slots at once (a barrier stage), but master " + master + " can never give more than " + slots
          + (taskCpus > 1 ? " (spark.task.cpus=" + taskCpus + ")" : "") + "; set world_size to at most " + slots
          + (master.startsWith("local[") ? " or spark_master to local[" + worldSize + "]" : ""));
    }
  }

  // ------------------------------------------------------------------------------------------ model

  /** model.path (a folder with config.json and readable weights) or model.config; returns the config. */
  static ModelConfig checkModel(JobConfig job) {
    ModelConfig config;
    if (job.modelPath() != null) {
      Path folder = Path.of(job.modelPath());
      if (!Files.isDirectory(folder)) {
        throw new InputMissingException(job.source() + ": key 'model.path': no folder " + folder
            + " (a Hugging Face model folder holding config.json and model.safetensors)");
      }
      if (!Files.isRegularFile(folder.resolve("config.json"))) {
        throw new InputMissingException(job.source() + ": key 'model.path': " + folder + " has no config.json"
            + " (a Hugging Face model folder holds config.json and model.safetensors)");
      }
      try {
        config = AutoConfig.fromPretrained(folder);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      checkWeights(folder, config, "model.path", job.source());
    } else {
      try {
        config = AutoConfig.fromJson(new ObjectMapper().writeValueAsString(job.modelConfig()),
            job.source() + ": model.config");
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        throw new IllegalArgumentException(job.source() + ": model.config: " + e.getMessage(), e);
      }
    }
    if (job.adapterPath() != null) {
      Path adapter = Path.of(job.adapterPath());
      for (String name : List.of("adapter_config.json", "adapter_model.safetensors")) {
        if (!Files.isRegularFile(adapter.resolve(name))) {
          throw new InputMissingException(job.source() + ": key 'peft.adapter_path': " + adapter + " has no "
              + name + " (a PEFT adapter folder holds adapter_config.json and adapter_model.safetensors)");
        }
      }
      try (SafeTensorsFile f = SafeTensorsFile.open(adapter.resolve("adapter_model.safetensors"))) {
        f.names();
      } catch (IOException e) {
        throw new IllegalArgumentException(job.source() + ": key 'peft.adapter_path': " + e.getMessage(), e);
      }
    }
    return config;
  }

  /**
   * The weights' headers: present, not truncated (every tensor's bytes inside the file), and the token
   * embedding's shape equal to the config's {@code vocab_size} × {@code hidden_size} (or {@code n_embd}), the
   * mismatch a config edited apart from its weights shows.
   */
  static void checkWeights(Path folder, ModelConfig config, String key, String source) {
    try (Checkpoint weights = Checkpoint.open(folder)) {
      JsonNode json = new ObjectMapper().readTree(config.toJson().toString());
      String widthKey = json.hasNonNull("hidden_size") ? "hidden_size" : json.hasNonNull("n_embd") ? "n_embd" : null;
      for (String name : weights.names()) {
        if (!name.endsWith("wte.weight") && !name.endsWith("embed_tokens.weight")
            && !name.endsWith("word_embeddings.weight")) {
          continue;
        }
        long[] shape = weights.info(name).shape();
        String[] keys = {"vocab_size", widthKey};
        for (int d = 0; d < 2 && shape.length == 2; d++) {
          if (keys[d] != null && json.hasNonNull(keys[d]) && json.get(keys[d]).asLong() != shape[d]) {
            throw new IllegalArgumentException(source + ": key '" + key + "': " + folder + "/config.json says"
                + " " + keys[d] + " " + json.get(keys[d]).asLong() + " but " + weights.source() + " holds '" + name
                + "' of shape " + java.util.Arrays.toString(shape) + ": the config and the weights are of different"
                + " models");
          }
        }
      }
    } catch (NoSuchFileException e) {
      throw new InputMissingException(source + ": key '" + key + "': " + folder + ": " + e.getReason());
    } catch (IOException e) {
      throw new IllegalArgumentException(source + ": key '" + key + "': " + e.getMessage(), e);
    }
  }

  // ------------------------------------------------------------------------------------------ tokenizer

  /** A text task's tokenizer folder holds tokenizer.json. */
  static void checkTokenizer(JobConfig job) {
    if (job.tokenizer() == null) {
      throw new io.sparkformers.jobs.UsageException(job.source() + ": key 'data.tokenizer' is needed: a text model"
          + " built from model.config has no folder to take tokenizer.json from");
    }
    String key = job.modelPath() != null && job.modelPath().equals(job.tokenizer()) ? "model.path"
        : "data.tokenizer";
    Path folder = Path.of(job.tokenizer());
    if (!Files.isRegularFile(folder.resolve("tokenizer.json"))) {
      throw new InputMissingException(job.source() + ": key '" + key + "': " + (Files.isDirectory(folder)
          ? folder + " has no tokenizer.json" : "no folder " + folder + " (a folder holding tokenizer.json)"));
    }
  }

  // ------------------------------------------------------------------------------------------ data

  /** train_file and eval_file name existing files, not empty, with the columns the task reads. */
  static void checkData(JobConfig job, JobConfig.Task task) {
    checkFiles(job, task, job.trainFiles(), "data.train_file");
    if (!job.evalFiles().isEmpty()) {
      checkFiles(job, task, job.evalFiles(), "data.eval_file");
    }
  }

  private static void checkFiles(JobConfig job, JobConfig.Task task, List<String> locations, String key) {
    InputFiles inputs = new InputFiles(job.hadoop());
    List<InputFiles.InputFile> files = new ArrayList<>();
    for (String location : locations) {
      if (location.startsWith("classpath:")) {
        if (JobData.class.getResource(location.substring("classpath:".length())) == null) {
          throw new InputMissingException(job.source() + ": key '" + key + "': no such resource in the jar: "
              + location);
        }
        continue;
      }
      try {
        files.addAll(inputs.resolve(List.of(location)));
      } catch (IllegalArgumentException e) {
        throw new InputMissingException(job.source() + ": key '" + key + "': " + e.getMessage());
      } catch (UncheckedIOException e) {
        // A store that cannot be listed now (credentials, network): the loader reports it with its cause.
        return;
      }
    }
    if (files.isEmpty()) {
      if (locations.stream().allMatch(l -> l.startsWith("classpath:"))) {
        return;
      }
      throw new InputMissingException(job.source() + ": key '" + key + "': no file in " + describe(locations)
          + " (folders and patterns leave out names starting with '.' or '_')");
    }
    DataFormat format = job.format();
    Contents contents = Contents.EMPTY;
    Set<String> columns = new LinkedHashSet<>();
    boolean columnsKnown = true;
    for (InputFiles.InputFile f : files) {
      FileSummary s = summarize(inputs, f, format, job.header());
      contents = contents.max(s.contents());
      if (s.columns() == null) {
        columnsKnown = false;
      } else {
        columns.addAll(s.columns());
      }
    }
    String what = files.size() == 1 ? files.get(0).uri() : describe(locations) + " (" + files.size() + " files)";
    if (contents == Contents.EMPTY) {
      throw new IllegalArgumentException(job.source() + ": key '" + key + "': " + what
          + (files.size() == 1 ? " is empty" : " are all empty") + ": no columns and no rows");
    }
    if (contents == Contents.HEADER_ONLY) {
      throw new IllegalArgumentException(job.source() + ": key '" + key + "': " + what + " holds a header row "
          + columns + " but no data rows");
    }
    if (columnsKnown && !columns.isEmpty()) {
      checkColumns(job, task, key, what, columns);
    }
  }

  /** The columns a task reads, against those a file's header (or JSON keys) name. */
  static void checkColumns(JobConfig job, JobConfig.Task task, String key, String what, Set<String> columns) {
    List<String> missing = new ArrayList<>();
    switch (task) {
      case TABULAR_CLASSIFICATION -> {
        require(columns, job.labelColumn(), "data.label_column", missing);
        for (String f : job.featureColumns()) {
          require(columns, f, "data.feature_columns", missing);
        }
      }
      case SEQUENCE_CLASSIFICATION -> {
        require(columns, job.textColumn(), "data.text_column", missing);
        require(columns, job.labelColumn(), "data.label_column", missing);
      }
      case CAUSAL_LM -> {
        if (!columns.contains("input_ids")) {
          require(columns, job.textColumn(), "data.text_column", missing);
        }
      }
      case SFT -> {
        boolean any = columns.contains(job.messagesColumn()) || columns.contains(job.textColumn())
            || columns.contains("input_ids")
            || (columns.contains(job.promptColumn()) && columns.contains(job.completionColumn()));
        if (!any) {
          throw new IllegalArgumentException(job.source() + ": key '" + key + "': " + what + ": no column for sft:"
              + " expected '" + job.messagesColumn() + "' (data.messages_column), '" + job.promptColumn() + "' and '"
              + job.completionColumn() + "' (data.prompt_column, data.completion_column), '" + job.textColumn()
              + "' (data.text_column) or 'input_ids'; the columns are " + columns);
        }
      }
      default -> { }
    }
    if (!missing.isEmpty()) {
      throw new IllegalArgumentException(job.source() + ": key '" + key + "': " + what + ": no column "
          + String.join(", ", missing) + " for " + task.configName() + "; the columns are " + columns);
    }
  }

  private static void require(Set<String> columns, String name, String key, List<String> missing) {
    if (!columns.contains(name)) {
      missing.add("'" + name + "' (" + key + ")");
    }
  }

  /** How much a file holds, in order: nothing, a header row only, rows. */
  enum Contents {
    EMPTY, HEADER_ONLY, ROWS;

    Contents max(Contents other) {
      return compareTo(other) >= 0 ? this : other;
    }
  }

  /** What the first lines of a file show: its contents and its columns (null when not cheaply known). */
  record FileSummary(Contents contents, Set<String> columns) {}

  static FileSummary summarize(InputFiles inputs, InputFiles.InputFile file, DataFormat format, boolean header) {
    if (format == DataFormat.PARQUET || format == DataFormat.ARROW) {
      // Binary formats: their schema is in a footer or a header this check does not parse.
      return new FileSummary(file.size() == 0 ? Contents.EMPTY : Contents.ROWS, null);
    }
    boolean readWhole = format == DataFormat.JSON && file.size() <= JSON_COLUMNS_LIMIT;
    try (InputStream in = inputs.open(file);
        BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
      String first = nextNonBlank(r);
      if (first == null) {
        return new FileSummary(Contents.EMPTY, Set.of());
      }
      if (first.startsWith("\uFEFF")) {
        first = first.substring(1);
      }
      switch (format) {
        case CSV -> {
          List<String> fields = csvFields(first);
          Set<String> columns = new LinkedHashSet<>();
          for (int i = 0; i < fields.size(); i++) {
            columns.add(header ? fields.get(i) : "column_" + i);
          }
          if (header && nextNonBlank(r) == null) {
            return new FileSummary(Contents.HEADER_ONLY, columns);
          }
          return new FileSummary(Contents.ROWS, columns);
        }
        case TEXT -> {
          return new FileSummary(Contents.ROWS, Set.of("text"));
        }
        default -> {
          if (first.trim().startsWith("[") || !readWhole) {
            return new FileSummary(Contents.ROWS, null);
          }
          Set<String> columns = new LinkedHashSet<>();
          ObjectMapper json = new ObjectMapper();
          for (String line = first; line != null; line = nextNonBlank(r)) {
            JsonNode row;
            try {
              row = json.readTree(line);
            } catch (IOException notJson) {
              // A pretty-printed object or bad line: the loader names the line and what is wrong.
              return new FileSummary(Contents.ROWS, null);
            }
            if (row == null || !row.isObject()) {
              return new FileSummary(Contents.ROWS, null);
            }
            row.fieldNames().forEachRemaining(columns::add);
          }
          return new FileSummary(Contents.ROWS, columns);
        }
      }
    } catch (IOException | UncheckedIOException e) {
      // Unreadable now: the loader reports it with its cause.
      return new FileSummary(Contents.ROWS, null);
    }
  }

  private static String nextNonBlank(BufferedReader r) throws IOException {
    for (String line = r.readLine(); line != null; line = r.readLine()) {
      if (!line.isBlank()) {
        return line;
      }
    }
    return null;
  }

  /**
   * The fields of one CSV line as the loader splits a header: comma-separated, a double quote opening a field
   * quotes it ("" inside is one quote), nothing trimmed.
   */
  static List<String> csvFields(String line) {
    List<String> out = new ArrayList<>();
    StringBuilder field = new StringBuilder();
    boolean quoted = false;
    for (int i = 0; i < line.length(); i++) {
      char c = line.charAt(i);
      if (quoted) {
        if (c == '"' && i + 1 < line.length() && line.charAt(i + 1) == '"') {
          field.append('"');
          i++;
        } else if (c == '"') {
          quoted = false;
        } else {
          field.append(c);
        }
      } else if (c == '"' && field.length() == 0) {
        quoted = true;
      } else if (c == ',') {
        out.add(field.toString());
        field.setLength(0);
      } else {
        field.append(c);
      }
    }
    out.add(field.toString());
    return out;
  }

  private static String describe(List<String> locations) {
    return locations.size() == 1 ? locations.get(0) : locations.toString();
  }

  /** For tests: checks with an explicit master. */
  static void check(JobConfig job, String master) {
    check(job, master, new SparkConf(false));
  }
}
