package io.sparkformers.it.jobs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparkformers.it.DriverTraffic;
import io.sparkformers.it.LocalClusterSpark;
import io.sparkformers.jobs.SparkformersCommand;
import io.sparkformers.jobs.train.JobConfig;
import io.sparkformers.jobs.train.TrainJob;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * tabular_classification, sequence_classification and sft with data.use_spark on real executor JVMs
 * ({@code local-cluster[2,1,1024]}), each from the repository's example job file, model and data (the data
 * repeated with variations to about 2.6 MB of rows): 2 ranks train exactly as over the rows prepared in the driver
 * (data.use_spark false), each rank read about half of the data, and the rows never passed through the driver.
 *
 * <p>Equal to the bit, not within a tolerance: both runs deal the same rows to the same ranks in the same order,
 * every executor JVM runs libtorch on one thread from the same seed, so every float operation happens in the
 * same order on the same values.
 */
class NonCausalDataPathsIT {
  static final Path ROOT = Path.of(System.getenv("SPARKFORMERS_ROOT"));
  static final ObjectMapper JSON = new ObjectMapper();
  static SparkSession spark;

  @TempDir static Path models;
  @TempDir Path dir;

  @BeforeAll
  static void startSpark() throws InterruptedException {
    spark = SparkSession.builder().config(LocalClusterSpark.conf(2, 1, 1024, "non-causal-data-paths-it")
        .set("spark.executor.extraJavaOptions", "-Dai.djl.offline=true -Dai.djl.default_engine=PyTorch"
            + " -Dai.djl.pytorch.num_threads=1")
        // libtorch's OpenMP threads spin briefly between operators instead of sleeping (faster steps).
        .set("spark.executorEnv.GOMP_SPINCOUNT", "10000")
        // Broadcast pieces at their real size: DriverTraffic measures what closures carry.
        .set("spark.broadcast.compress", "false")
        .set("spark.sql.shuffle.partitions", "2")).getOrCreate();
    long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
    // A barrier stage needs both executors registered (the driver is listed too).
    while (spark.sparkContext().statusTracker().getExecutorInfos().length < 3) {
      assertTrue(System.nanoTime() < deadline, "2 executors did not register within 90 s");
      Thread.sleep(100);
    }
  }

  @AfterAll
  static void stopSpark() {
    if (spark != null) {
      spark.stop();
    }
  }

  /** A copy of models/NAME's committed files, with the tokenizer and weights models/README.md's commands make. */
  private static Path model(String name, String tokenizerType, String corpus) throws IOException {
    Path folder = models.resolve(name);
    if (Files.isDirectory(folder)) {
      return folder;
    }
    Files.createDirectories(folder);
    try (var files = Files.list(ROOT.resolve("models").resolve(name))) {
      for (Path f : files.toList()) {
        Files.copy(f, folder.resolve(f.getFileName()));
      }
    }
    assertEquals(0, SparkformersCommand.commandLine().execute("tokenizer", "train", "--type", tokenizerType,
        "--vocab-size", "512", "--input", ROOT.resolve(corpus).toString(), "--output", folder.toString()));
    assertEquals(0, SparkformersCommand.commandLine().execute("model", "init", folder.toString()));
    return folder;
  }

  /** A run's metrics that say what was learned (not how fast), and its saved weights. */
  private record Run(Map<String, Double> metrics, byte[] weights, DriverTraffic.Counts traffic) {}

  private Run train(String config, List<String> overrides, String name) throws IOException {
    List<String> all = new ArrayList<>(overrides);
    Path out = dir.resolve(name);
    all.add("training_args.output_dir=" + out);
    JobConfig job = JobConfig.load(ROOT.resolve("conf").resolve(config), all);
    try (DriverTraffic traffic = DriverTraffic.start(spark.sparkContext())) {
      Map<String, Double> metrics = TrainJob.run(job, spark);
      return new Run(metrics, Files.readAllBytes(out.resolve("model/model.safetensors")), traffic.counts());
    }
  }

  /**
   * Runs {@code config} with the overrides three times on the local-cluster: 2 ranks over rows prepared in the
   * driver, 2 ranks over rows prepared by Spark tasks, and 1 rank (its bytes are the whole data's).
   */
  private void trainsOnExecutorsAsOverTheDriversRows(String config, List<String> overrides, List<String> metrics)
      throws IOException {
    List<String> common = new ArrayList<>(overrides);
    common.addAll(List.of("world_size=2", "training_args.max_steps=4", "training_args.save_strategy=no",
        "training_args.disable_tqdm=true", "training_args.logging_steps=2"));
    Run driver = train(config, with(common, "data.use_spark=false"), "driver");
    Run executors = train(config, with(common, "data.use_spark=true"), "executors");
    Run oneRank = train(config, with(common, "data.use_spark=true", "world_size=1", "training_args.max_steps=1"),
        "one-rank");
    System.out.printf(Locale.ROOT, "%s: driver path: %s%n  executors: %s%n  bytes read: %s of %s (1 rank)%n",
        config, driver.traffic(), executors.traffic(), List.of(executors.metrics().get("shard_bytes_rank_0"),
            executors.metrics().get("shard_bytes_rank_1")), oneRank.metrics().get("shard_bytes_rank_0"));

    List<String> learned = new ArrayList<>(List.of("train_loss", "eval_loss", "global_step", "epoch",
        "train_rows", "eval_rows"));
    learned.addAll(metrics);
    for (String key : learned) {
      assertTrue(executors.metrics().containsKey(key), key + " in " + executors.metrics());
      assertEquals(driver.metrics().get(key), executors.metrics().get(key), config + " " + key);
    }
    assertEquals(4.0, executors.metrics().get("global_step"));
    assertTrue(executors.metrics().get("train_loss") > 0, executors.metrics().toString());
    assertArrayEquals(driver.weights(), executors.weights(), config + ": model/model.safetensors differs");

    // Each rank read about half of what one rank reads alone (its rows' Arrow bytes: train and eval).
    double all = oneRank.metrics().get("shard_bytes_rank_0");
    for (int r = 0; r < 2; r++) {
      double read = executors.metrics().get("shard_bytes_rank_" + r);
      assertTrue(read > 0.4 * all && read < 0.6 * all, config + ": rank " + r + " read " + read + " of " + all);
    }

    // The rows passed through the driver on the driver path (inside its tasks: the measure sees them), and not
    // on the executors' path. Rows that pass through the driver make it send at least all their bytes (each row
    // reaches a rank), and a rank's rows sent at once make one task or broadcast of half of them (1.3 MB); the
    // driver's own traffic (query plans, call sites, counts) is 0.4-0.6 MB whatever the data, about 20 tasks,
    // broadcasts and results of at most 52 KB each, with room left for a file scan's broadcast configuration.
    assertTrue(driver.traffic().total() > all && driver.traffic().largest() > 0.4 * all, config + ": "
        + driver.traffic() + " for " + all + " bytes of rows");
    assertTrue(all > 2.2e6, config + ": " + all + " bytes of rows, too few to tell the driver's own traffic from"
        + " them");
    assertTrue(executors.traffic().total() < 0.5 * all, config + ": " + executors.traffic() + " for " + all
        + " bytes of rows");
    assertTrue(executors.traffic().largest() < 256 * 1024, config + ": " + executors.traffic());
  }

  private Path write(String name, CharSequence text) throws IOException {
    Path file = dir.resolve(name);
    Files.writeString(file, text);
    return file;
  }

  private static List<String> with(List<String> list, String... more) {
    List<String> out = new ArrayList<>(list);
    out.addAll(List.of(more));
    return out;
  }

  // ------------------------------------------------------------------------------- tabular

  @Test
  void tabularClassification() throws IOException {
    // iris repeated, each repetition shifted by a few hundredths of a centimetre.
    List<String> iris = Files.readAllLines(ROOT.resolve("data/iris/iris.csv"));
    Path train = writeCsv("train.csv", iris, 600);
    Path eval = writeCsv("eval.csv", iris, 2);
    trainsOnExecutorsAsOverTheDriversRows("tabular-classification.yaml", List.of("data.train_file=" + train,
        "data.eval_file=" + eval), List.of("eval_accuracy", "eval_f1_macro"));
  }

  private Path writeCsv(String name, List<String> iris, int repeats) throws IOException {
    StringBuilder s = new StringBuilder(iris.get(0)).append('\n');
    for (int k = 0; k < repeats; k++) {
      double shift = (k % 7 - 3) * 0.01;
      for (String line : iris.subList(1, iris.size())) {
        String[] f = line.split(",");
        for (int i = 0; i < 4; i++) {
          s.append(String.format(Locale.ROOT, "%.2f,", Double.parseDouble(f[i]) + shift));
        }
        s.append(f[4]).append('\n');
      }
    }
    return write(name, s);
  }

  // ------------------------------------------------------------------- sequence classification

  @Test
  void sequenceClassification() throws IOException {
    Path bert = model("tiny-bert", "wordpiece", "data/corpus/train.txt");
    // The reviews, each followed by another one (the first one's label): more rows, the same words.
    List<Map<?, ?>> reviews = new ArrayList<>();
    for (String line : Files.readAllLines(ROOT.resolve("data/reviews/train.jsonl"))) {
      reviews.add(JSON.readValue(line, Map.class));
    }
    Path train = writeReviews("train.jsonl", reviews, 2400, 0);
    Path eval = writeReviews("eval.jsonl", reviews, 64, 5);
    trainsOnExecutorsAsOverTheDriversRows("sequence-classification.yaml", List.of("model.path=" + bert,
        "data.train_file=" + train, "data.eval_file=" + eval), List.of("eval_accuracy", "eval_f1_macro"));
  }

  private Path writeReviews(String name, List<Map<?, ?>> reviews, int rows, int offset) throws IOException {
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < rows; i++) {
      Map<?, ?> a = reviews.get(i % reviews.size());
      Map<?, ?> b = reviews.get((i * 7 + 3 + offset) % reviews.size());
      s.append(JSON.writeValueAsString(Map.of("text", a.get("text") + " " + b.get("text"), "label",
          a.get("label")))).append('\n');
    }
    return write(name, s);
  }

  // -------------------------------------------------------------------------------------- sft

  @Test
  void sft() throws IOException {
    Path llama = model("tiny-llama", "bytelevel-bpe", "data/chats/train.jsonl");
    Path train = writeChats("train.jsonl", 6500, 7);
    Path eval = writeChats("eval.jsonl", 32, 8);
    trainsOnExecutorsAsOverTheDriversRows("sft.yaml", List.of("model.path=" + llama, "data.train_file=" + train,
        "data.eval_file=" + eval), List.of("perplexity"));
  }

  /** Arithmetic chats as data/chats holds (data/README.md says how they were drawn), {@code rows} of them. */
  private Path writeChats(String name, int rows, long seed) throws IOException {
    Random rng = new Random(seed);
    String[] ops = {"plus", "times", "minus"};
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < rows; i++) {
      int a = 2 + rng.nextInt(48);
      int b = 2 + rng.nextInt(48);
      String op = ops[rng.nextInt(3)];
      int r = op.equals("plus") ? a + b : op.equals("times") ? a * b : a - b;
      s.append(JSON.writeValueAsString(Map.of("messages", List.of(
          Map.of("role", "user", "content", "What is " + a + " " + op + " " + b + "?"),
          Map.of("role", "assistant", "content", a + " " + op + " " + b + " is " + r + "."))))).append('\n');
    }
    return write(name, s);
  }
}
