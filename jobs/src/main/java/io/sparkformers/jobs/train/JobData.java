package io.sparkformers.jobs.train;

import io.sparkformers.datasets.AutoTokenizer;
import io.sparkformers.datasets.ChatTemplate;
import io.sparkformers.datasets.ColumnType;
import io.sparkformers.datasets.DataFormat;
import io.sparkformers.datasets.Dataset;
import io.sparkformers.datasets.DatasetDict;
import io.sparkformers.datasets.DatasetLoader;
import io.sparkformers.datasets.Features;
import io.sparkformers.datasets.GroupTexts;
import io.sparkformers.datasets.LoadOptions;
import io.sparkformers.datasets.MapOptions;
import io.sparkformers.datasets.SparkDataset;
import io.sparkformers.datasets.Tokenizer;
import io.sparkformers.datasets.TrainTestSplit;
import io.sparkformers.jobs.train.JobConfig.Task;
import io.sparkformers.training.models.ModelConfig;
import io.sparkformers.training.models.bert.BertConfig;
import io.sparkformers.training.models.CausalLmConfig;
import io.sparkformers.training.models.mlp.MlpConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.zip.GZIPInputStream;
import org.apache.spark.sql.SparkSession;

/**
 * The driver's part of a job: loads the dataset files with datasets-arrow (as Spark jobs when a session is
 * given), holds out the eval rows, tokenizes (on Spark) and groups texts as transformers' run_glue and run_clm
 * do, and turns the rows into the model's inputs. Every error names the file(s) and the columns found.
 */
public final class JobData {
  private static final Set<ColumnType> NUMERIC = Set.of(ColumnType.INT32, ColumnType.INT64, ColumnType.FLOAT32,
      ColumnType.FLOAT64, ColumnType.BOOL);

  private JobData() {}

  /** The model inputs of the training and evaluation rows, and the class names when labels were strings. */
  public record Prepared(TensorColumns train, TensorColumns eval, List<String> labelNames, Integer blockSize)
      implements java.io.Serializable {}

  /** Prepares a job's data for {@code model}; {@code spark} may be null (everything then runs in this JVM). */
  public static Prepared prepare(JobConfig job, Task task, ModelConfig model, SparkSession spark) {
    SparkSession jobs = job.useSpark() ? spark : null;
    LoadOptions load = loadOptions(job, jobs);
    DataFormat format = job.format();
    String trainWhat = describe(job.trainFiles());
    String held = task == Task.CAUSAL_LM ? "the first " + job.validationSplitPercentage() + "%"
        : "held-out " + job.testSize();
    String evalWhat = job.evalFiles().isEmpty() ? trainWhat + " (" + held + ")" : describe(job.evalFiles());
    try (Dataset trainFile = load(format, load, job.trainFiles(), "data.train_file")) {
      Dataset evalFile = job.evalFiles().isEmpty() ? null : load(format, load, job.evalFiles(), "data.eval_file");
      try {
        requireColumns(trainFile, trainWhat, task, job);
        if (evalFile != null) {
          requireColumns(evalFile, evalWhat, task, job);
        }
        // Labels are checked on the files as loaded, so that an error's row number is the file's row.
        Labels labels = null;
        if (task != Task.CAUSAL_LM && task != Task.SFT) {
          int numLabels = model instanceof MlpConfig m ? m.numLabels() : ((BertConfig) model).numLabels();
          labels = Labels.of(trainFile, job.labelColumn(), trainWhat, numLabels);
          labels.ids(trainFile, trainWhat);
          if (evalFile != null) {
            labels.ids(evalFile, evalWhat);
          }
        }
        try (DatasetDict split = evalFile != null ? null : split(trainFile, task, job)) {
          Dataset train = split != null ? split.get("train") : trainFile;
          Dataset eval = split != null ? split.get("test") : evalFile;
          return switch (task) {
            case TABULAR_CLASSIFICATION -> tabular(job, (MlpConfig) model, labels, train, eval, trainWhat, evalWhat);
            case SEQUENCE_CLASSIFICATION -> sequenceClassification(job, (BertConfig) model, labels, train, eval, trainWhat,
                evalWhat, jobs);
            case CAUSAL_LM -> causalLm(job, (CausalLmConfig) model, train, eval, trainWhat, evalWhat, jobs);
            case SFT -> sft(job, (CausalLmConfig) model, train, eval, trainWhat, evalWhat);
          };
        }
      } finally {
        if (evalFile != null) {
          evalFile.close();
        }
      }
    }
  }

  /** How the job's files are loaded: on {@code spark} when given, into data.cache_dir when set. */
  static LoadOptions loadOptions(JobConfig job, SparkSession spark) {
    LoadOptions.Builder options = LoadOptions.builder().header(job.header()).hadoopConfiguration(job.hadoop());
    // A Hadoop URI (s3a://...) holds the prepared shards only; the loaders' Arrow cache stays local.
    if (job.cacheDir() != null && !PreparedCache.isUri(job.cacheDir())) {
      options.cacheDir(Path.of(job.cacheDir()));
    }
    if (spark != null) {
      options.spark(spark);
    }
    return options.build();
  }

  /**
   * The eval rows of a job without an eval_file: classification as datasets' train_test_split(test_size,
   * seed); causal LM as run_clm, validation = train[:N%] and train = train[N%:] (datasets rounds a percent
   * boundary to the closest row, halves to even).
   */
  static DatasetDict split(Dataset all, Task task, JobConfig job) {
    if (task != Task.CAUSAL_LM) {
      return all.trainTestSplit(TrainTestSplit.testFraction(job.testSize(), job.splitSeed()));
    }
    long n = all.numRows();
    long boundary = clmBoundary(n, job);
    Map<String, Dataset> parts = new java.util.LinkedHashMap<>();
    parts.put("train", all.selectRange(boundary, n));
    parts.put("test", all.selectRange(0, boundary));
    return new DatasetDict(parts);
  }

  /** {@link #split} on Spark: the same rows, made by Spark jobs from rows that stay on the executors. */
  static SparkDataset.Split split(SparkDataset all, Task task, JobConfig job) {
    if (task != Task.CAUSAL_LM) {
      return all.trainTestSplit(TrainTestSplit.testFraction(job.testSize(), job.splitSeed()));
    }
    long n = all.numRows();
    long boundary = clmBoundary(n, job);
    return new SparkDataset.Split(all.selectRange(boundary, n), all.selectRange(0, boundary));
  }

  /** run_clm's validation rows train[:N%] end at the percent boundary rounded to the closest row, halves to even. */
  static long clmBoundary(long n, JobConfig job) {
    return (long) Math.rint(job.validationSplitPercentage() * (double) n / 100.0);
  }

  /** The model type each task needs. */
  static void checkModel(Task task, ModelConfig model, String source) {
    String wanted = switch (task) {
      case TABULAR_CLASSIFICATION -> "mlp";
      case SEQUENCE_CLASSIFICATION -> "bert";
      case CAUSAL_LM, SFT -> "causal LM (gpt2, llama, qwen2, mistral)";
    };
    boolean fits = switch (task) {
      case TABULAR_CLASSIFICATION, SEQUENCE_CLASSIFICATION -> model.modelType().equals(wanted);
      case CAUSAL_LM, SFT -> model instanceof CausalLmConfig;
    };
    if (!fits) {
      throw new IllegalArgumentException(source + ": task " + task.configName() + " needs a " + wanted
          + " model, the model is " + model.modelType());
    }
  }

  static String describe(List<String> files) {
    return files.size() == 1 ? files.get(0) : files.toString();
  }

  static Dataset load(DataFormat format, LoadOptions options, List<String> locations, String key) {
    try {
      return DatasetLoader.load(format, options, resolve(locations));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(key + " " + describe(locations) + ": " + e.getMessage(), e);
    }
  }

  /** {@link #load} by executor tasks: the rows stay on the executors, nothing is written to a cache folder. */
  static SparkDataset loadOnSpark(DataFormat format, LoadOptions options, List<String> locations, String key) {
    try {
      return SparkDataset.load(format, options, resolve(locations));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(key + " " + describe(locations) + ": " + e.getMessage(), e);
    }
  }

  private static List<String> resolve(List<String> locations) {
    List<String> resolved = new ArrayList<>();
    for (String l : locations) {
      resolved.add(l.startsWith("classpath:") ? fromClasspath(l).toString() : l);
    }
    return resolved;
  }

  /**
   * A file in the jar (gunzipped when it ends in .gz) as a local file the loaders read: under the temporary
   * folder, named by a hash of its bytes, so that a second run finds the same file and the same cache.
   */
  static Path fromClasspath(String location) {
    String resource = location.substring("classpath:".length());
    try (InputStream in = JobData.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalArgumentException("no such resource in the jar");
      }
      byte[] bytes = in.readAllBytes();
      String name = Path.of(resource).getFileName().toString();
      if (name.endsWith(".gz")) {
        try (InputStream gz = new GZIPInputStream(new java.io.ByteArrayInputStream(bytes))) {
          bytes = gz.readAllBytes();
        }
        name = name.substring(0, name.length() - 3);
      }
      String hash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes)).substring(0, 16);
      Path dir = Path.of(System.getProperty("java.io.tmpdir"), "sparkformers-resources", hash);
      Path file = dir.resolve(name);
      if (!Files.isRegularFile(file) || Files.size(file) != bytes.length) {
        Files.createDirectories(dir);
        Path temp = Files.createTempFile(dir, ".part-", "");
        Files.write(temp, bytes);
        Files.move(temp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      }
      return file;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot copy " + location + " out of the jar", e);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The columns the task reads, each named with the file and the columns it has when missing. */
  static void requireColumns(Dataset d, String what, Task task, JobConfig job) {
    requireColumns(d.features(), what, task, job);
  }

  static void requireColumns(Features features, String what, Task task, JobConfig job) {
    if (task == Task.SFT) {
      SftFormat.of(features, what, job);
      return;
    }
    if (task == Task.CAUSAL_LM && features.contains("input_ids")) {
      return;
    }
    List<String> needed = new ArrayList<>();
    List<String> keys = new ArrayList<>();
    if (task != Task.CAUSAL_LM) {
      needed.add(job.labelColumn());
      keys.add("data.label_column");
    }
    if (task == Task.TABULAR_CLASSIFICATION) {
      for (String f : job.featureColumns()) {
        needed.add(f);
        keys.add("data.feature_columns");
      }
    } else {
      needed.add(job.textColumn());
      keys.add("data.text_column");
    }
    List<String> missing = new ArrayList<>();
    for (int i = 0; i < needed.size(); i++) {
      if (!features.contains(needed.get(i))) {
        missing.add("'" + needed.get(i) + "' (" + keys.get(i) + ")");
      }
    }
    if (!missing.isEmpty()) {
      throw new IllegalArgumentException(what + ": no column " + String.join(", ", missing) + " for "
          + task.configName() + "; the columns are " + columns(features));
    }
  }

  static String columns(Features f) {
    List<String> out = new ArrayList<>();
    f.asMap().forEach((n, t) -> out.add(n + " (" + t.name().toLowerCase(java.util.Locale.ROOT) + ")"));
    return out.toString();
  }

  // ------------------------------------------------------------------------------- tabular

  private static Prepared tabular(JobConfig job, MlpConfig model, Labels labels, Dataset train, Dataset eval,
      String trainWhat, String evalWhat) {
    List<String> features = tabularFeatures(job, model, train, trainWhat);
    return new Prepared(tabularRows(train, features, job, labels, trainWhat),
        tabularRows(eval, features, job, labels, evalWhat), labels.names(), null);
  }

  /** data.feature_columns, or every numeric column but the label; as many as the mlp's input_size. */
  static List<String> tabularFeatures(JobConfig job, MlpConfig model, Dataset train, String trainWhat) {
    return tabularFeatures(job, model, train.features(), trainWhat);
  }

  static List<String> tabularFeatures(JobConfig job, MlpConfig model, Features train, String trainWhat) {
    List<String> features = new ArrayList<>(job.featureColumns());
    if (features.isEmpty()) {
      train.asMap().forEach((n, t) -> {
        if (!n.equals(job.labelColumn()) && NUMERIC.contains(t)) {
          features.add(n);
        }
      });
    }
    if (features.size() != model.inputSize()) {
      throw new IllegalArgumentException(trainWhat + ": " + features.size() + " feature columns " + features
          + ", but the mlp's input_size is " + model.inputSize() + "; the columns are " + columns(train));
    }
    return features;
  }

  static void checkNumeric(Dataset d, List<String> features, String what) {
    checkNumeric(d.features(), features, what);
  }

  static void checkNumeric(Features columns, List<String> features, String what) {
    for (String name : features) {
      ColumnType type = columns.type(name);
      if (!NUMERIC.contains(type)) {
        throw new IllegalArgumentException(what + ": feature column '" + name + "' holds "
            + type.name().toLowerCase(java.util.Locale.ROOT) + " values; expected numbers (the columns are "
            + columns(columns) + ")");
      }
    }
  }

  /** One feature value as the mlp reads it (booleans as 0/1), scaled by data.feature_scale. */
  static float feature(Object v, String name, float scale) {
    if (v == null) {
      throw new IllegalArgumentException("feature column '" + name + "' is empty; expected a number");
    }
    return (v instanceof Boolean b ? (b ? 1f : 0f) : ((Number) v).floatValue()) * scale;
  }

  private static TensorColumns tabularRows(Dataset d, List<String> features, JobConfig job, Labels labels,
      String what) {
    int n = Math.toIntExact(d.numRows());
    int w = features.size();
    checkNumeric(d, features, what);
    float scale = job.featureScale();
    float[] x = new float[n * w];
    for (int c = 0; c < w; c++) {
      String name = features.get(c);
      List<Object> values = d.column(name);
      for (int r = 0; r < n; r++) {
        try {
          x[r * w + c] = feature(values.get(r), name, scale);
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException(what + " row " + r + ": " + e.getMessage(), e);
        }
      }
    }
    return TensorColumns.builder(n).floats("features", x, w).longs("labels", labels.ids(d, what), 1).build();
  }

  // ------------------------------------------------------------------- sequence classification

  private static Prepared sequenceClassification(JobConfig job, BertConfig model, Labels labels, Dataset train,
      Dataset eval, String trainWhat, String evalWhat, SparkSession spark) {
    try (Tokenizer tokenizer = tokenizer(job, model.vocabSize())) {
      int pad = classificationPad(job, tokenizer);
      checkText(train, job.textColumn(), trainWhat);
      checkText(eval, job.textColumn(), evalWhat);
      int length = classificationLength(job, model, tokenizer);
      return new Prepared(encodeClassification(tokenizer, train, job, labels, length, pad, trainWhat, spark),
          encodeClassification(tokenizer, eval, job, labels, length, pad, evalWhat, spark), labels.names(), null);
    }
  }

  static int classificationPad(JobConfig job, Tokenizer tokenizer) {
    Integer pad = tokenizer.padTokenId();
    if (pad == null) {
      throw new IllegalArgumentException(job.tokenizer() + ": the tokenizer has no pad_token"
          + " (tokenizer_config.json); sequence classification pads every row to max_seq_length");
    }
    return pad;
  }

  /** run_glue: max_seq_length = min(max_seq_length, tokenizer.model_max_length), padding="max_length". */
  static int classificationLength(JobConfig job, BertConfig model, Tokenizer tokenizer) {
    int length = (int) Math.min(job.maxSeqLength(), tokenizer.modelMaxLength());
    if (length > model.maxPositionEmbeddings()) {
      throw new IllegalArgumentException(job.source() + ": key 'data.max_seq_length': " + length
          + " tokens do not fit the model's max_position_embeddings " + model.maxPositionEmbeddings());
    }
    return length;
  }

  static void checkText(Dataset d, String column, String what) {
    checkText(d.features(), column, what);
  }

  static void checkText(Features features, String column, String what) {
    if (features.type(column) != ColumnType.STRING) {
      throw new IllegalArgumentException(what + ": text column '" + column + "' holds "
          + features.type(column).name().toLowerCase(java.util.Locale.ROOT) + " values; expected strings");
    }
  }

  private static TensorColumns encodeClassification(Tokenizer tokenizer, Dataset d, JobConfig job, Labels labels,
      int length, int pad, String what, SparkSession spark) {
    long[] labelIds = labels.ids(d, what);
    String[] drop = d.columnNames().stream().filter(c -> !c.equals(job.labelColumn())).toArray(String[]::new);
    try (Dataset tokens = spark != null ? tokenizer.tokenize(spark, d, job.textColumn(), length, drop)
        : tokenizer.tokenize(d, job.textColumn(), length, drop)) {
      int n = Math.toIntExact(tokens.numRows());
      long[] ids = new long[n * length];
      long[] mask = new long[n * length];
      java.util.Arrays.fill(ids, pad);
      List<Object> idColumn = tokens.column("input_ids");
      List<Object> maskColumn = tokens.column("attention_mask");
      for (int r = 0; r < n; r++) {
        int[] i = (int[]) idColumn.get(r);
        int[] m = (int[]) maskColumn.get(r);
        for (int t = 0; t < i.length; t++) {
          ids[r * length + t] = i[t];
          mask[r * length + t] = m[t];
        }
      }
      return TensorColumns.builder(n).longs("input_ids", ids, length).longs("attention_mask", mask, length)
          .longs("labels", labelIds, 1).build();
    }
  }

  // ---------------------------------------------------------------------------- causal LM

  private static Prepared causalLm(JobConfig job, CausalLmConfig model, Dataset train, Dataset eval, String trainWhat,
      String evalWhat, SparkSession spark) {
    if (train.features().contains("input_ids")) {
      if (!eval.features().contains("input_ids")) {
        throw new IllegalArgumentException(evalWhat + ": no column 'input_ids', but " + trainWhat + " is"
            + " pre-tokenized; the columns are " + columns(eval.features()));
      }
      int blockSize = blockSize(job, Long.MAX_VALUE, model);
      return new Prepared(preTokenizedBlocks(train, model.vocabSize(), blockSize, trainWhat),
          preTokenizedBlocks(eval, model.vocabSize(), blockSize, evalWhat), null, blockSize);
    }
    try (Tokenizer tokenizer = tokenizer(job, model.vocabSize())) {
      int blockSize = blockSize(job, tokenizer.modelMaxLength(), model);
      checkText(train, job.textColumn(), trainWhat);
      checkText(eval, job.textColumn(), evalWhat);
      return new Prepared(blocks(tokenizer, train, job, blockSize, trainWhat, spark),
          blocks(tokenizer, eval, job, blockSize, evalWhat, spark), null, blockSize);
    }
  }

  /** run_clm's block size: block_size capped by the tokenizer, or the tokenizer's length capped at 1024. */
  static int blockSize(JobConfig job, long tokenizerMaxLength, CausalLmConfig model) {
    int blockSize;
    if (job.blockSize() == null) {
      long max = tokenizerMaxLength;
      blockSize = (int) (max > model.maxPositions() ? Math.min(1024, model.maxPositions()) : max);
    } else {
      blockSize = (int) Math.min(job.blockSize(), tokenizerMaxLength);
    }
    if (blockSize > model.maxPositions()) {
      throw new IllegalArgumentException(job.source() + ": key 'data.block_size': " + blockSize
          + " tokens do not fit the model's " + model.maxPositionsKey() + " " + model.maxPositions());
    }
    return blockSize;
  }

  private static TensorColumns blocks(Tokenizer tokenizer, Dataset d, JobConfig job, int blockSize, String what,
      SparkSession spark) {
    // run_clm: tokenize the text column, removing every column, then group_texts.
    String[] all = d.columnNames().toArray(String[]::new);
    try (Dataset tokens = spark != null ? tokenizer.tokenize(spark, d, job.textColumn(), 0, all)
        : tokenizer.tokenize(d, job.textColumn(), 0, all)) {
      return groupedBlocks(tokens, blockSize, what);
    }
  }

  /**
   * A pre-tokenized causal_lm dataset: its input_ids column (lists of integers, as run_clm's tokenize step would
   * have written them; every other column is dropped) grouped into blocks as text is.
   */
  private static TensorColumns preTokenizedBlocks(Dataset d, int vocabSize, int blockSize, String what) {
    List<Object> column = d.column("input_ids");
    for (int r = 0; r < column.size(); r++) {
      try {
        for (int id : ints(column.get(r), "input_ids")) {
          if (id < 0 || id >= vocabSize) {
            throw new IllegalArgumentException("token id " + id + " is not in the model's vocabulary (vocab_size "
                + vocabSize + ")");
          }
        }
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(what + " row " + r + ": " + e.getMessage(), e);
      }
    }
    MapOptions options = MapOptions.builder().function("pre_tokenized_input_ids", "1")
        .removeColumns(d.columnNames()).build();
    try (Dataset tokens = d.mapBatched(batch -> {
      List<Object> ids = new ArrayList<>();
      List<Object> masks = new ArrayList<>();
      for (Object v : batch.get("input_ids")) {
        int[] i = ints(v, "input_ids");
        int[] m = new int[i.length];
        java.util.Arrays.fill(m, 1);
        ids.add(i);
        masks.add(m);
      }
      return Map.of("input_ids", ids, "attention_mask", masks);
    }, options)) {
      return groupedBlocks(tokens, blockSize, what);
    }
  }

  private static TensorColumns groupedBlocks(Dataset tokens, int blockSize, String what) {
    try (Dataset grouped = GroupTexts.groupTexts(tokens, blockSize)) {
      int n = Math.toIntExact(grouped.numRows());
      if (n == 0) {
        throw new IllegalArgumentException(what + ": fewer than block_size = " + blockSize + " tokens in a group"
            + " of " + GroupTexts.BATCH_SIZE + " rows, so group_texts leaves no block; give more text or a smaller"
            + " data.block_size");
      }
      TensorColumns.Builder b = TensorColumns.builder(n);
      for (String c : List.of("input_ids", "attention_mask", "labels")) {
        long[] v = new long[n * blockSize];
        List<Object> column = grouped.column(c);
        for (int r = 0; r < n; r++) {
          int[] block = (int[]) column.get(r);
          for (int t = 0; t < blockSize; t++) {
            v[r * blockSize + t] = block[t];
          }
        }
        b.longs(c, v, blockSize);
      }
      return b.build();
    }
  }

  // -------------------------------------------------------------------------------------- sft

  /** The kind of rows an sft dataset holds, told by its columns in this order. */
  enum SftFormat {
    PRE_TOKENIZED, MESSAGES, PROMPT_COMPLETION, TEXT;

    static SftFormat of(Dataset d, String what, JobConfig job) {
      return of(d.features(), what, job);
    }

    static SftFormat of(Features f, String what, JobConfig job) {
      if (f.contains("input_ids")) {
        return PRE_TOKENIZED;
      }
      if (f.contains(job.messagesColumn())) {
        return MESSAGES;
      }
      if (f.contains(job.promptColumn()) && f.contains(job.completionColumn())) {
        return PROMPT_COMPLETION;
      }
      if (f.contains(job.textColumn())) {
        return TEXT;
      }
      throw new IllegalArgumentException(what + ": no column for sft: '" + job.messagesColumn()
          + "' (data.messages_column), '" + job.promptColumn() + "' and '" + job.completionColumn()
          + "' (data.prompt_column, data.completion_column), '" + job.textColumn() + "' (data.text_column) or"
          + " 'input_ids'; the columns are " + columns(f));
    }
  }

  /**
   * TRL's SFTTrainer data path: each row becomes input_ids and labels ({@link SftExamples}), truncated to
   * data.max_seq_length, then padded on the right to the longest row of its split with the pad token (eos when
   * there is none), attention_mask 0 and labels -100, as DataCollatorForLanguageModeling pads a batch. Padding
   * to the split's longest row instead of each batch's is what the fixed-width rows the ranks receive allow;
   * it changes no loss: a causal LM's padded positions come after every real one and have no label.
   */
  private static Prepared sft(JobConfig job, CausalLmConfig model, Dataset train, Dataset eval, String trainWhat,
      String evalWhat) {
    SftFormat format = SftFormat.of(train, trainWhat, job);
    SftFormat evalFormat = SftFormat.of(eval, evalWhat, job);
    checkSftFormats(format, evalFormat, trainWhat, evalWhat);
    checkSftLength(job, model);
    int maxLength = job.maxSeqLength();
    Tokenizer tokenizer = format == SftFormat.PRE_TOKENIZED && job.tokenizer() == null ? null
        : tokenizer(job, model.vocabSize());
    try {
      ChatTemplate template = sftTemplate(job, format);
      SftExamples examples = new SftExamples(tokenizer, template, job.completionOnlyLoss(), job.assistantOnlyLoss(),
          maxLength);
      Integer pad = tokenizer == null ? null
          : tokenizer.padTokenId() != null ? tokenizer.padTokenId() : tokenizer.eosTokenId();
      int padId = pad == null ? 0 : pad;
      return new Prepared(sftRows(examples, train, format, job, padId, model.vocabSize(), trainWhat),
          sftRows(examples, eval, format, job, padId, model.vocabSize(), evalWhat), null, null);
    } finally {
      if (tokenizer != null) {
        tokenizer.close();
      }
    }
  }

  /** The tokenizer's chat template when the rows need it (conversations), else null. */
  static ChatTemplate sftTemplate(JobConfig job, SftFormat format) {
    if (format == SftFormat.PROMPT_COMPLETION && !ChatTemplate.templateNames(Path.of(job.tokenizer())).isEmpty()) {
      // Conversational prompt-completion rows need it; plain ones do not.
      return ChatTemplate.fromPretrained(Path.of(job.tokenizer()));
    }
    if (format == SftFormat.MESSAGES) {
      try {
        return ChatTemplate.fromPretrained(Path.of(job.tokenizer()));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(job.source() + ": sft on conversations needs the tokenizer's chat"
            + " template: " + e.getMessage(), e);
      }
    }
    return null;
  }

  /** The sft split of a split's checked format. */
  static void checkSftFormats(SftFormat format, SftFormat evalFormat, String trainWhat, String evalWhat) {
    if (evalFormat != format) {
      throw new IllegalArgumentException(evalWhat + ": " + name(evalFormat) + " rows, but " + trainWhat + " holds "
          + name(format) + " rows");
    }
  }

  static void checkSftLength(JobConfig job, CausalLmConfig model) {
    if (job.maxSeqLength() > model.maxPositions()) {
      throw new IllegalArgumentException(job.source() + ": key 'data.max_seq_length': " + job.maxSeqLength()
          + " tokens do not fit the model's " + model.maxPositionsKey() + " " + model.maxPositions());
    }
  }

  /** The columns an sft row is read from: the first always, the second (or null) for two-column formats. */
  static String[] sftColumns(SftFormat format, JobConfig job, Features features) {
    String first = switch (format) {
      case PRE_TOKENIZED -> "input_ids";
      case MESSAGES -> job.messagesColumn();
      case PROMPT_COMPLETION -> job.promptColumn();
      case TEXT -> job.textColumn();
    };
    String second = format == SftFormat.PROMPT_COMPLETION ? job.completionColumn()
        : format == SftFormat.PRE_TOKENIZED && features.contains("labels") ? "labels" : null;
    return new String[] {first, second};
  }

  /** One sft row's example, its ids checked against the vocabulary; an error names the column, not the row. */
  static SftExamples.Example sftExample(SftExamples examples, SftFormat format, JobConfig job, Object first,
      Object second, boolean hasSecond, int vocabSize) {
    SftExamples.Example e = switch (format) {
      case PRE_TOKENIZED -> examples.preTokenized(ints(first, "input_ids"),
          hasSecond ? ints(second, "labels") : null);
      case MESSAGES -> examples.messages(conversation(first, job.messagesColumn()));
      case PROMPT_COMPLETION -> isConversation(first)
          ? examples.conversationalPromptCompletion(conversation(first, job.promptColumn()),
              conversation(second, job.completionColumn()))
          : examples.promptCompletion(string(first, job.promptColumn()), string(second, job.completionColumn()));
      case TEXT -> examples.text(string(first, job.textColumn()));
    };
    for (int id : e.inputIds()) {
      if (id < 0 || id >= vocabSize) {
        throw new IllegalArgumentException("token id " + id + " is not in the model's vocabulary (vocab_size "
            + vocabSize + ")");
      }
    }
    return e;
  }

  private static String name(SftFormat f) {
    return f.name().toLowerCase(java.util.Locale.ROOT).replace('_', ' ');
  }

  static TensorColumns sftRows(SftExamples examples, Dataset d, SftFormat format, JobConfig job, int padId,
      int vocabSize, String what) {
    int n = Math.toIntExact(d.numRows());
    List<SftExamples.Example> rows = new ArrayList<>(n);
    String[] names = sftColumns(format, job, d.features());
    List<Object> first = d.column(names[0]);
    List<Object> second = names[1] == null ? null : d.column(names[1]);
    for (int r = 0; r < n; r++) {
      try {
        rows.add(sftExample(examples, format, job, first.get(r), second == null ? null : second.get(r),
            second != null, vocabSize));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(what + " row " + r + ": " + e.getMessage(), e);
      }
    }
    int width = 1;
    for (SftExamples.Example e : rows) {
      width = Math.max(width, e.inputIds().length);
    }
    long[] ids = new long[n * width];
    long[] mask = new long[n * width];
    long[] labels = new long[n * width];
    java.util.Arrays.fill(ids, padId);
    java.util.Arrays.fill(labels, SftExamples.IGNORE);
    for (int r = 0; r < n; r++) {
      SftExamples.Example e = rows.get(r);
      for (int t = 0; t < e.inputIds().length; t++) {
        ids[r * width + t] = e.inputIds()[t];
        mask[r * width + t] = 1;
        labels[r * width + t] = e.labels()[t];
      }
    }
    return TensorColumns.builder(n).longs("input_ids", ids, width).longs("attention_mask", mask, width)
        .longs("labels", labels, width).build();
  }

  private static String string(Object v, String column) {
    if (!(v instanceof String s)) {
      throw new IllegalArgumentException("column '" + column + "' holds " + (v == null ? "nothing" : "no text"));
    }
    return s;
  }

  static int[] ints(Object v, String column) {
    if (v instanceof int[] i) {
      return i;
    }
    if (v instanceof long[] l) {
      int[] out = new int[l.length];
      for (int k = 0; k < l.length; k++) {
        out[k] = (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, l[k]));
      }
      return out;
    }
    if (v instanceof List<?> list) {
      int[] out = new int[list.size()];
      for (int k = 0; k < out.length; k++) {
        if (!(list.get(k) instanceof Number x) || x instanceof Double || x instanceof Float) {
          throw new IllegalArgumentException("column '" + column + "' holds a list that is not of integers");
        }
        out[k] = (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, x.longValue()));
      }
      return out;
    }
    throw new IllegalArgumentException("column '" + column + "' holds " + (v == null ? "nothing" : "no list of"
        + " integers"));
  }

  /** A list of messages, which the loaders keep as its JSON text (a plain prompt is any other string). */
  private static boolean isConversation(Object v) {
    return v instanceof String s && s.startsWith("[{") && s.endsWith("}]");
  }

  @SuppressWarnings("unchecked")
  private static List<Map<String, Object>> conversation(Object v, String column) {
    String json = string(v, column);
    Object parsed;
    try {
      parsed = new com.fasterxml.jackson.databind.ObjectMapper().readValue(json, Object.class);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalArgumentException("column '" + column + "' is not a JSON list of messages: "
          + e.getOriginalMessage());
    }
    if (!(parsed instanceof List<?> list)) {
      throw new IllegalArgumentException("column '" + column + "' is not a list of messages");
    }
    for (int i = 0; i < list.size(); i++) {
      if (!(list.get(i) instanceof Map<?, ?> m) || !(m.get("role") instanceof String)) {
        throw new IllegalArgumentException("column '" + column + "' message " + i + " is not a {role, content}");
      }
    }
    return (List<Map<String, Object>>) parsed;
  }

  static Tokenizer tokenizer(JobConfig job, int modelVocabSize) {
    if (job.tokenizer() == null) {
      throw new IllegalArgumentException(job.source() + ": key 'data.tokenizer' is needed: a text model built from"
          + " model.config has no folder to take tokenizer.json from");
    }
    Path folder = Path.of(job.tokenizer());
    if (!Files.isRegularFile(folder.resolve("tokenizer.json"))) {
      throw new IllegalArgumentException(job.source() + ": key '" + (job.modelPath() != null
          && job.modelPath().equals(job.tokenizer()) ? "model.path" : "data.tokenizer") + "': " + folder
          + " has no tokenizer.json");
    }
    Tokenizer t = AutoTokenizer.fromPretrained(folder);
    if (t.vocabSize() > modelVocabSize) {
      t.close();
      throw new IllegalArgumentException(folder + "/tokenizer.json has " + "a vocabulary of " + t.vocabSize()
          + " tokens, more than the model's vocab_size " + modelVocabSize);
    }
    return t;
  }

  // ------------------------------------------------------------------------------- labels

  /** Class ids: integer labels as they are, string labels sorted and numbered (run_glue's label_list). */
  record Labels(String column, List<String> names, int numLabels) implements java.io.Serializable {

    static Labels of(Dataset train, String column, String what, int numLabels) {
      ColumnType type = train.features().type(column);
      if (type == ColumnType.STRING) {
        TreeSet<String> distinct = new TreeSet<>();
        List<Object> values = train.column(column);
        for (int r = 0; r < values.size(); r++) {
          if (values.get(r) == null) {
            throw new IllegalArgumentException(what + " row " + r + ": label column '" + column + "' is empty");
          }
          distinct.add((String) values.get(r));
        }
        return named(column, distinct, what, numLabels);
      }
      return ofType(type, column, what, numLabels);
    }

    /** String labels: the distinct class names, sorted (run_glue's label_list). */
    static Labels named(String column, TreeSet<String> distinct, String what, int numLabels) {
      if (distinct.size() != numLabels) {
        throw new IllegalArgumentException(what + ": label column '" + column + "' holds " + distinct.size()
            + " classes " + distinct + ", but the model's num_labels is " + numLabels);
      }
      return new Labels(column, new ArrayList<>(distinct), numLabels);
    }

    /** Integer labels as they are; any other non-string type is an error. */
    static Labels ofType(ColumnType type, String column, String what, int numLabels) {
      if (type != ColumnType.INT32 && type != ColumnType.INT64) {
        throw new IllegalArgumentException(what + ": label column '" + column + "' holds "
            + type.name().toLowerCase(java.util.Locale.ROOT) + " values; expected class ids (integers from 0) or"
            + " class names (strings)");
      }
      return new Labels(column, null, numLabels);
    }

    long[] ids(Dataset d, String what) {
      ColumnType type = d.features().type(column);
      List<Object> values = d.column(column);
      long[] out = new long[values.size()];
      for (int r = 0; r < out.length; r++) {
        out[r] = id(values.get(r), type, what, r);
      }
      return out;
    }

    /** The class id of row {@code r}'s label {@code v} in a column of {@code type}; errors name the row. */
    long id(Object v, ColumnType type, String what, long r) {
      if (v == null) {
        throw new IllegalArgumentException(what + " row " + r + ": label column '" + column + "' is empty");
      }
      if (names != null) {
        if (type != ColumnType.STRING) {
          throw new IllegalArgumentException(what + ": label column '" + column + "' holds "
              + type.name().toLowerCase(java.util.Locale.ROOT) + " values, the training labels are strings");
        }
        int id = names.indexOf((String) v);
        if (id < 0) {
          throw new IllegalArgumentException(what + " row " + r + ": label '" + v + "' is not among the"
              + " training labels " + names);
        }
        return id;
      }
      if (!(v instanceof Integer || v instanceof Long)) {
        throw new IllegalArgumentException(what + ": label column '" + column + "' holds "
            + type.name().toLowerCase(java.util.Locale.ROOT) + " values, the training labels are class ids");
      }
      long id = ((Number) v).longValue();
      if (id < 0 || id >= numLabels) {
        throw new IllegalArgumentException(what + " row " + r + ": label " + id + " in column '" + column
            + "' is not a class id of the model (0.." + (numLabels - 1) + ", num_labels " + numLabels + ")");
      }
      return id;
    }
  }
}
