package io.sparkformers.jobs;

import io.sparkformers.datasets.AutoTokenizer;
import io.sparkformers.datasets.Tokenizer;
import io.sparkformers.datasets.TokenizerTrainer;
import io.sparkformers.jobs.train.JobConfig;
import io.sparkformers.jobs.train.TrainJob;
import java.io.BufferedWriter;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code sparkformers bench data}: the train job's data path at scale. Generates a dataset of about
 * {@code --gb} gigabytes for {@code --task} (text for causal_lm, numeric columns and a label for
 * tabular_classification, text and a label for sequence_classification, chat messages for sft; jsonl or csv, or
 * parquet converted from it), then, in a driver JVM started with {@code --driver-memory} of heap on a Spark
 * {@code local-cluster} of {@code --ranks} executor JVMs, prepares it (load, tokenize or extract features, the
 * task's own steps, split, all Spark jobs) and trains the task's small model for {@code --steps} steps on
 * {@code --ranks} ranks. Prints the prepare throughput (rows/s and MB/s per core, tokenization included), the
 * share of step time spent reading batches, the driver's peak heap, and the bytes each rank read (its spilled
 * partition, or its shards with {@code --shards}).
 */
@Command(name = "data", mixinStandardHelpOptions = true,
    description = "The train job's data path: prepare throughput, data-loading share of a step, driver heap,"
        + " bytes read per rank (local-cluster, driver at --driver-memory).")
public final class BenchDataCommand implements Callable<Integer> {

  @Option(names = "--task", description = "what data and model: causal_lm (text, GPT-2), tabular_classification"
      + " (16 numeric columns and a label, MLP), sequence_classification (text and a label, BERT) or sft (chat"
      + " messages, Llama) (default: causal_lm)")
  String task = "causal_lm";

  @Option(names = "--gb", description = "size of the generated data in GB (default: 0.2)")
  double gb = 0.2;

  @Option(names = "--format", description = "jsonl (csv for tabular_classification) or parquet converted from it;"
      + " sft: jsonl only (default: jsonl)")
  String format = "jsonl";

  @Option(names = "--ranks", description = "executors and ranks (default: 2)")
  int ranks = 2;

  @Option(names = "--steps", description = "training steps (default: 30)")
  int steps = 30;

  @Option(names = "--block-size", description = "tokens per block (causal_lm) or per row at most (max_seq_length:"
      + " sequence_classification, sft) (default: 128)")
  int blockSize = 128;

  @Option(names = "--driver-memory", description = "the driver JVM's -Xmx (default: 512m)")
  String driverMemory = "512m";

  @Option(names = "--shards", description = "prepare into data.cache_dir (fingerprinted shards the ranks read)"
      + " instead of spilling each rank's partition")
  boolean shards;

  @Option(names = "--work-dir", description = "where the data, the caches and the output go (default: a new"
      + " temporary folder, deleted after)")
  Path workDir;

  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    BenchTask t = BenchTask.named(task);
    if (t == null) {
      throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--task must be one of "
          + BenchTask.names() + "; got '" + task + "'");
    }
    if (!(gb > 0) || ranks < 1 || steps < 1 || blockSize < 2 || !List.of("jsonl", "parquet").contains(format)) {
      throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--gb must be positive, --ranks and"
          + " --steps at least 1, --block-size at least 2, --format jsonl or parquet");
    }
    if (t == BenchTask.SFT && format.equals("parquet")) {
      throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--format parquet: --task sft"
          + " generates chat messages as jsonl only");
    }
    boolean temporary = workDir == null;
    Path dir = temporary ? Files.createTempDirectory("sparkformers-bench-data-") : workDir;
    try {
      Files.createDirectories(dir);
      long t0 = System.nanoTime();
      long[] written = generate(t, dir.resolve("data/train." + t.extension), (long) (gb * 1e9), 42);
      // A small eval file: evaluation keeps every row's logits (as transformers'), which is not measured here.
      generate(t, dir.resolve("data/eval." + t.extension), 20_000, 43);
      Path tok = t.tokenizer(dir.resolve("tokenizer"));
      System.out.printf(Locale.ROOT, "generated %,d rows, %,d bytes of %s in %.1f s%n", written[0], written[1],
          t.extension, (System.nanoTime() - t0) / 1e9);
      return runDriver(dir, t, tok, written[0]);
    } finally {
      if (temporary) {
        deleteRecursively(dir);
      }
    }
  }

  /** The measuring driver in a JVM of its own: its heap limit, and the environment local-cluster needs. */
  private int runDriver(Path dir, BenchTask t, Path tok, long rows) throws IOException, InterruptedException {
    Path sparkHome = dir.resolve("spark-home");
    Files.createDirectories(sparkHome.resolve("jars"));
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xmx" + driverMemory);
    for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if (!a.startsWith("-Xmx") && !a.startsWith("-agentlib") && !a.startsWith("-javaagent")) {
        cmd.add(a);
      }
    }
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Driver.class.getName(), dir.toString(),
        tok == null ? "-" : tok.toString(), format, Integer.toString(ranks), Integer.toString(steps),
        Integer.toString(blockSize), Boolean.toString(shards), t.configName, Long.toString(rows)));
    ProcessBuilder pb = new ProcessBuilder(cmd).inheritIO();
    pb.environment().put("SPARK_HOME", sparkHome.toString());
    pb.environment().put("SPARK_SCALA_VERSION", "2.13");
    pb.environment().putIfAbsent("SPARK_LOCAL_IP", "127.0.0.1");
    // The loaders' Arrow cache (on the driver and the executors) under the work folder, not the user's.
    pb.environment().put("SPARKFORMERS_DATASETS_CACHE", dir.resolve("arrow-cache").toString());
    return pb.start().waitFor();
  }

  private static final String[] SYLLABLES = {"ka", "lo", "mi", "nu", "pe", "ra", "si", "to", "ve", "zu", "an",
      "el", "or", "is", "um", "ba", "de", "fi", "go", "hu"};

  /** A seeded sentence of made-up words (Zipf-like: short words more often), {@code min + [0, spread)} of them. */
  private static String sentence(SplittableRandom rng, int min, int spread) {
    StringBuilder s = new StringBuilder();
    int words = min + rng.nextInt(spread);
    for (int w = 0; w < words; w++) {
      if (w > 0) {
        s.append(' ');
      }
      int syllables = 1 + Math.min(rng.nextInt(4), rng.nextInt(4));
      for (int k = 0; k < syllables; k++) {
        int i = Math.min(rng.nextInt(SYLLABLES.length), rng.nextInt(SYLLABLES.length));
        s.append(SYLLABLES[i]);
      }
    }
    return s.append('.').toString();
  }

  static List<String> sample(int n, long seed) {
    SplittableRandom rng = new SplittableRandom(seed);
    List<String> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      out.add(sentence(rng, 8, 40));
    }
    return out;
  }

  /**
   * Writes {@code task}'s rows (after its header line, if any) until {@code bytes} are written; returns {rows,
   * bytes}. The same seed writes the same file.
   */
  static long[] generate(BenchTask task, Path file, long bytes, long seed) throws IOException {
    Files.createDirectories(file.getParent());
    SplittableRandom rng = new SplittableRandom(seed);
    long rows = 0;
    long size = 0;
    try (BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
      String header = task.header();
      if (header != null) {
        w.write(header);
        size += header.length();
      }
      while (size < bytes) {
        String line = task.row(rng) + "\n";
        w.write(line);
        size += line.length(); // ASCII
        rows++;
      }
    }
    return new long[] {rows, size};
  }

  /**
   * The chat template of the repository's tiny Llama (models/tiny-llama/chat_template.jinja): each message after
   * its role, the assistant's ended by the end-of-sequence token.
   */
  static final String CHAT_TEMPLATE = "{% for m in messages %}<|{{ m.role }}|> {{ m.content }}{% if m.role =="
      + " \"assistant\" %}{{ eos_token }}{% endif %}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>"
      + " {% endif %}";

  /** Number of numeric feature columns of the generated tabular data, and of its classes. */
  static final int FEATURES = 16;
  static final int CLASSES = 4;

  /** What bench data generates, how it is tokenized, and the small model that trains on it, for each task. */
  enum BenchTask {
    CAUSAL_LM("causal_lm", "jsonl", "load, tokenize, group_texts, split"),
    TABULAR_CLASSIFICATION("tabular_classification", "csv", "load, features and label ids, split"),
    SEQUENCE_CLASSIFICATION("sequence_classification", "jsonl", "load, tokenize and pad, label ids, split"),
    SFT("sft", "jsonl", "load, chat template, tokenize, label masks, split");

    final String configName;
    final String extension;
    final String steps;

    BenchTask(String configName, String extension, String steps) {
      this.configName = configName;
      this.extension = extension;
      this.steps = steps;
    }

    static BenchTask named(String name) {
      for (BenchTask t : values()) {
        if (t.configName.equals(name)) {
          return t;
        }
      }
      return null;
    }

    static List<String> names() {
      return java.util.Arrays.stream(values()).map(t -> t.configName).toList();
    }

    /** The csv header line (with its newline), or null. */
    String header() {
      if (this != TABULAR_CLASSIFICATION) {
        return null;
      }
      StringBuilder h = new StringBuilder();
      for (int j = 0; j < FEATURES; j++) {
        h.append('f').append(j).append(',');
      }
      return h.append("label\n").toString();
    }

    /** One generated row, without its newline. */
    String row(SplittableRandom rng) {
      return switch (this) {
        case CAUSAL_LM -> "{\"text\": \"" + sentence(rng, 8, 40) + "\"}";
        case TABULAR_CLASSIFICATION -> {
          // Each class a cluster of its own centre, so that an MLP has something to learn.
          int label = rng.nextInt(CLASSES);
          StringBuilder r = new StringBuilder();
          for (int j = 0; j < FEATURES; j++) {
            double centre = ((label * 7 + j * 3) % 11) / 5.0 - 1;
            r.append(String.format(Locale.ROOT, "%.4f,", centre + (rng.nextDouble() - 0.5)));
          }
          yield r.append('c').append(label).toString();
        }
        case SEQUENCE_CLASSIFICATION -> {
          String text = sentence(rng, 8, 40);
          // The label follows the text (its first word's length), so that it can be learned.
          yield "{\"text\": \"" + text + "\", \"label\": \"" + (text.indexOf(' ') % 4 < 2 ? "positive"
              : "negative") + "\"}";
        }
        case SFT -> "{\"messages\": [{\"role\": \"user\", \"content\": \"" + sentence(rng, 4, 20)
            + "\"}, {\"role\": \"assistant\", \"content\": \"" + sentence(rng, 4, 20) + "\"}]}";
      };
    }

    /** Trains the task's tokenizer into {@code folder} (with sft's chat template); null for tabular data. */
    Path tokenizer(Path folder) throws IOException {
      switch (this) {
        case TABULAR_CLASSIFICATION -> {
          return null;
        }
        case SEQUENCE_CLASSIFICATION -> TokenizerTrainer.wordPiece().vocabSize(2000).minFrequency(2).build()
            .train(sample(2000, 7), folder);
        default -> TokenizerTrainer.byteLevelBpe().vocabSize(2000).minFrequency(2).build()
            .train(sample(2000, 7), folder);
      }
      if (this == SFT) {
        Files.writeString(folder.resolve("chat_template.jinja"), CHAT_TEMPLATE);
      }
      return folder;
    }

    /** The job file's model and data sections for {@code vocab} tokens (0 without a tokenizer). */
    List<String> modelAndData(int vocab, int blockSize, String tokenizer) {
      return switch (this) {
        case CAUSAL_LM -> List.of("model:",
            "  config: {model_type: gpt2, vocab_size: " + vocab + ", n_positions: " + blockSize
                + ", n_embd: 64, n_layer: 2, n_head: 2}",
            "data:", "  tokenizer: " + tokenizer, "  block_size: " + blockSize);
        case TABULAR_CLASSIFICATION -> List.of("model:",
            "  config: {model_type: mlp, input_size: " + FEATURES + ", hidden_sizes: [64], num_labels: " + CLASSES
                + "}",
            "data:", "  label_column: label");
        case SEQUENCE_CLASSIFICATION -> List.of("model:",
            "  config: {model_type: bert, vocab_size: " + vocab + ", hidden_size: 64, num_hidden_layers: 2,"
                + " num_attention_heads: 2, intermediate_size: 128, max_position_embeddings: " + blockSize
                + ", num_labels: 2}",
            "data:", "  tokenizer: " + tokenizer, "  max_seq_length: " + blockSize);
        case SFT -> List.of("model:",
            "  config: {model_type: llama, vocab_size: " + vocab + ", hidden_size: 64, intermediate_size: 128,"
                + " num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2,"
                + " max_position_embeddings: " + blockSize + "}",
            "data:", "  tokenizer: " + tokenizer, "  max_seq_length: " + blockSize, "  assistant_only_loss: true");
      };
    }

    /** What one rank's batch of 8 rows holds, for the printout. */
    String batch(int blockSize) {
      return switch (this) {
        case CAUSAL_LM, SEQUENCE_CLASSIFICATION -> "8 x " + blockSize + " tokens";
        case TABULAR_CLASSIFICATION -> "8 rows of " + FEATURES + " features";
        case SFT -> "8 chats of up to " + blockSize + " tokens";
      };
    }
  }

  static void deleteRecursively(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (var all = Files.walk(dir)) {
      all.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  /** The driver JVM: local-cluster, the train job, the measurements. */
  public static final class Driver {
    private Driver() {}

    public static void main(String[] a) throws Exception {
      Path dir = Path.of(a[0]);
      Path tok = a[1].equals("-") ? null : Path.of(a[1]);
      String format = a[2];
      int ranks = Integer.parseInt(a[3]);
      int steps = Integer.parseInt(a[4]);
      int blockSize = Integer.parseInt(a[5]);
      boolean shards = Boolean.parseBoolean(a[6]);
      BenchTask task = BenchTask.named(a[7]);
      long rows = Long.parseLong(a[8]);
      String executorOptions = "-Dai.djl.offline=true -Dai.djl.default_engine=PyTorch -Dai.djl.pytorch.num_threads=1";
      SparkConf conf = new SparkConf().setMaster("local-cluster[" + ranks + ",1,1024]")
          .setAppName("sparkformers bench data").set("spark.driver.host", "127.0.0.1")
          .set("spark.driver.bindAddress", "127.0.0.1").set("spark.ui.enabled", "false")
          .set("spark.executor.extraClassPath", absoluteClassPath())
          .set("spark.executor.extraJavaOptions", executorOptions)
          .set("spark.executorEnv.SPARK_LOCAL_IP", "127.0.0.1")
          .set("spark.executorEnv.SPARKFORMERS_DATASETS_CACHE", System.getenv("SPARKFORMERS_DATASETS_CACHE"))
          .set("spark.scheduler.barrier.maxConcurrentTasksCheck.interval", "1s")
          // The serializer the shipped conf/spark-defaults.conf sets: the prepare shuffles move rows with it.
          .set("spark.serializer", "org.apache.spark.serializer.KryoSerializer");
      if (System.getenv("DJL_CACHE_DIR") != null) {
        conf.set("spark.executorEnv.DJL_CACHE_DIR", System.getenv("DJL_CACHE_DIR"));
      }
      SparkSession spark = SparkSession.builder().config(conf).getOrCreate();
      try {
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (spark.sparkContext().statusTracker().getExecutorInfos().length < ranks + 1) {
          if (System.nanoTime() > deadline) {
            throw new IllegalStateException(ranks + " executors did not register within 120 s");
          }
          Thread.sleep(100);
        }
        Path train = dir.resolve("data/train." + task.extension);
        long inputBytes = Files.size(train);
        String trainFile = train.toString();
        String evalFile = dir.resolve("data/eval." + task.extension).toString();
        String fileFormat = task.extension.equals("csv") ? "csv" : "json";
        if (format.equals("parquet")) {
          Path evalParquet = dir.resolve("data/eval.parquet");
          read(spark, task, evalFile).coalesce(1).write().mode("overwrite").parquet(evalParquet.toString());
          evalFile = evalParquet.toString();
          Path parquet = dir.resolve("data/train.parquet");
          read(spark, task, trainFile).coalesce(ranks).write().mode("overwrite").parquet(parquet.toString());
          trainFile = parquet.toString();
          inputBytes = folderBytes(parquet);
          fileFormat = "parquet";
        }
        int vocab = 0;
        if (tok != null) {
          try (Tokenizer t = AutoTokenizer.fromPretrained(tok)) {
            vocab = t.vocabSize();
          }
        }
        List<String> lines = new ArrayList<>(List.of("task: " + task.configName));
        lines.addAll(task.modelAndData(vocab, blockSize, String.valueOf(tok)));
        lines.addAll(List.of(
            "  train_file: " + trainFile,
            "  format: " + fileFormat,
            "  eval_file: " + evalFile,
            "training_args:",
            "  output_dir: " + dir.resolve("out"),
            "  max_steps: " + steps,
            "  per_device_train_batch_size: 8",
            "  per_device_eval_batch_size: 64",
            "  save_strategy: 'no'",
            "  logging_steps: " + steps,
            "  disable_tqdm: true",
            "metrics: []",
            "world_size: " + ranks,
            ""));
        String yaml = String.join("\n", lines);
        List<String> overrides = new ArrayList<>();
        if (shards) {
          overrides.add("data.cache_dir=" + dir.resolve("shards"));
        }
        JobConfig job = JobConfig.parse(yaml, "bench-data.yaml", overrides);
        List<MemoryPoolMXBean> heap = ManagementFactory.getMemoryPoolMXBeans().stream()
            .filter(p -> p.getType() == MemoryType.HEAP).toList();
        heap.forEach(MemoryPoolMXBean::resetPeakUsage);
        long start = System.nanoTime();
        Map<String, Double> m = TrainJob.run(job, spark);
        double total = (System.nanoTime() - start) / 1e9;
        long peak = heap.stream().mapToLong(p -> p.getPeakUsage().getUsed()).sum();
        double prepare = m.get("prepare_seconds");
        print(m, task, inputBytes, rows, prepare, total, peak, ranks, blockSize, format, shards);
      } finally {
        spark.stop();
      }
    }

    /** This JVM's class path with absolute entries: executors start in folders of their own. */
    private static String absoluteClassPath() {
      List<String> out = new ArrayList<>();
      for (String e : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
        out.add(e.isEmpty() ? e : Path.of(e).toAbsolutePath().toString());
      }
      return String.join(java.io.File.pathSeparator, out);
    }

    /** A generated file as a DataFrame, to write as parquet: csv with its header and number types. */
    private static org.apache.spark.sql.Dataset<org.apache.spark.sql.Row> read(SparkSession spark, BenchTask task,
        String file) {
      return task.extension.equals("csv") ? spark.read().option("header", "true").option("inferSchema", "true")
          .csv(file) : spark.read().json(file);
    }

    private static long folderBytes(Path folder) throws IOException {
      try (var all = Files.walk(folder)) {
        return all.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
      }
    }

    private static void print(Map<String, Double> m, BenchTask task, long inputBytes, long rows, double prepare,
        double total, long peak, int ranks, int blockSize, String format, boolean shards) {
      double mb = inputBytes / 1e6;
      System.out.printf(Locale.ROOT, "%s input: %s, %,d rows, %.1f MB; %d ranks on local-cluster[%d,1,1024], %s%n",
          task.configName, format.equals("parquet") ? "parquet" : task.extension, rows, mb, ranks, ranks,
          shards ? "shards in data.cache_dir" : "partitions spilled by the ranks");
      System.out.printf(Locale.ROOT, "prepare (%s): %.1f s, %,.0f rows/s, %.2f MB/s per core (%d cores)%n",
          task.steps, prepare, rows / prepare, mb / prepare / ranks, ranks);
      double steps = m.get("global_step");
      double stepMs = m.get("train_runtime") / steps * 1e3;
      System.out.printf(Locale.ROOT, "train: %.0f steps of %s per rank, %.1f ms per step;"
          + " data loading %.2f%% of step time (rank 0)%n", steps, task.batch(blockSize), stepMs,
          m.get("data_loading_share") * 100);
      System.out.printf(Locale.ROOT, "driver heap: peak %.1f MB of max %.1f MB%n", peak / 1e6,
          Runtime.getRuntime().maxMemory() / 1e6);
      double all = 0;
      for (int r = 0; r < ranks; r++) {
        all += m.get("shard_bytes_rank_" + r);
      }
      for (int r = 0; r < ranks; r++) {
        double b = m.get("shard_bytes_rank_" + r);
        System.out.printf(Locale.ROOT, "rank %d read %.1f MB = %.3f of all ranks' (train %,.0f rows in all)%n", r,
            b / 1e6, b / all, m.get("train_rows"));
      }
      System.out.printf(Locale.ROOT, "total job time %.1f s%n", total);
    }
  }
}
