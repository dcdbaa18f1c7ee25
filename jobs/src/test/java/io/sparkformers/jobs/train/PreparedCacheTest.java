package io.sparkformers.jobs.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparkformers.datasets.ArrowFiles;
import io.sparkformers.datasets.Dataset;
import io.sparkformers.training.models.AutoConfig;
import io.sparkformers.training.models.ModelConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * data.cache_dir's prepared shards for tabular_classification, sequence_classification and sft: the first run
 * writes them, a second run reads them without a Spark job, and both train and evaluate exactly as the run
 * without the cache; another setting is another fingerprint; a bad shard names itself and the rank; each rank
 * reads only the byte ranges of its own evaluation batches.
 */
class PreparedCacheTest {
  static SparkSession spark;
  static final AtomicInteger JOBS = new AtomicInteger();

  @TempDir Path tmp;

  @BeforeAll
  static void startSpark() {
    spark = SparkSession.builder().master("local[2]").appName("prepared-cache")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.scheduler.barrier.maxConcurrentTasksCheck.interval", "1s").getOrCreate();
    spark.sparkContext().addSparkListener(new SparkListener() {
      @Override
      public void onJobStart(SparkListenerJobStart jobStart) {
        JOBS.incrementAndGet();
      }
    });
  }

  @AfterAll
  static void stopSpark() {
    spark.stop();
  }

  private JobConfig job(String yaml, String cache, String... overrides) {
    List<String> all = new ArrayList<>(List.of(overrides));
    if (cache != null) {
      all.add("data.cache_dir=" + tmp.resolve(cache));
    }
    return JobConfig.parse(yaml, "job.yaml", all);
  }

  /** The Spark jobs started while {@code r} runs (listener events are delivered asynchronously). */
  private static int sparkJobsDuring(Runnable r) throws Exception {
    spark.sparkContext().listenerBus().waitUntilEmpty();
    int before = JOBS.get();
    r.run();
    spark.sparkContext().listenerBus().waitUntilEmpty();
    return JOBS.get() - before;
  }

  /** What must not change between runs over the same rows: losses, metrics, steps and row counts. */
  private static Map<String, Double> results(Map<String, Double> run, boolean withBytes) {
    Map<String, Double> out = new TreeMap<>();
    run.forEach((k, v) -> {
      boolean timing = k.contains("runtime") || k.contains("per_second") || k.contains("seconds")
          || k.endsWith("_share");
      if (!timing && (withBytes || !k.startsWith("shard_bytes"))) {
        out.put(k, v);
      }
    });
    return out;
  }

  /** Every file of a folder and its modification time. */
  private static Map<String, Long> mtimes(Path folder) throws IOException {
    Map<String, Long> out = new TreeMap<>();
    try (Stream<Path> all = Files.list(folder)) {
      for (Path p : all.toList()) {
        out.put(p.getFileName().toString(), Files.getLastModifiedTime(p).toMillis());
      }
    }
    return out;
  }

  /**
   * Trains {@code yaml} on 2 ranks without data.cache_dir, then twice with it: the first run writes the shards
   * (one folder, no temporary one left), the second prepares with no Spark job and leaves every file as it was,
   * and all three give the same losses and metrics. Returns the cache.
   */
  private PreparedCache.Stored cachedRunsTrainAsUncached(String yaml, JobConfig.Task task, ModelConfig model)
      throws Exception {
    String epochs = "training_args.num_train_epochs=1";
    Map<String, Double> uncached = TrainJob.run(job(yaml, null, epochs,
        "training_args.output_dir=" + tmp.resolve("out0")), spark);
    Map<String, Double> first = TrainJob.run(job(yaml, "shared", epochs,
        "training_args.output_dir=" + tmp.resolve("out1")), spark);
    JobConfig again = job(yaml, "shared", epochs, "training_args.output_dir=" + tmp.resolve("out2"));
    Path folder = tmp.resolve("shared").resolve("prepared").resolve(PreparedCache.fingerprint(again, task, model));
    try (Stream<Path> listing = Files.list(folder.getParent())) {
      assertEquals(List.of(folder), listing.toList(), "one cache folder, no temporary one left");
    }
    Map<String, Long> written = mtimes(folder);
    RankShards.Prepared[] reused = new RankShards.Prepared[1];
    assertEquals(0, sparkJobsDuring(() -> reused[0] = TrainJob.prepare(again, task, model, spark)),
        "the second run loads and prepares nothing");
    assertNull(reused[0].rows(), "the ranks read the cache, no rows go with the barrier stage");
    Map<String, Double> second = TrainJob.run(again, spark);
    assertEquals(written, mtimes(folder), "nothing in the cache is written again");
    assertEquals(results(first, true), results(second, true));
    assertEquals(results(uncached, false), results(first, false));
    assertTrue(first.get("train_loss") > 0 && Double.isFinite(first.get("eval_loss")), first.toString());
    return reused[0].manifest().stored();
  }

  private static JsonNode manifest(PreparedCache.Stored s) throws IOException {
    return new ObjectMapper().readTree(Path.of(java.net.URI.create(s.folder())).resolve(PreparedCache.MANIFEST)
        .toFile());
  }

  // ------------------------------------------------------------------------------- tabular

  static final String MLP = SparkRowsTest.MLP;

  private Path tabularCsv(int rows) throws IOException {
    return SparkRowsTest.tabularCsv(tmp, rows);
  }

  private static String tabularYaml(Path csv) {
    return String.join("\n", "model:", "  config: " + MLP, "data:", "  train_file: " + csv,
        "  label_column: species", "  feature_columns: [a, b]", "  feature_scale: 0.5",
        "metrics: [accuracy, f1_macro]",
        "training_args: {output_dir: out, per_device_train_batch_size: 8, per_device_eval_batch_size: 3,"
            + " disable_tqdm: true, seed: 3}",
        "world_size: 2", "");
  }

  @Test
  void tabularShardsAreWrittenOnceReusedAndTrainAsWithoutTheCache() throws Exception {
    String yaml = tabularYaml(tabularCsv(203));
    ModelConfig model = AutoConfig.fromJson(MLP, "test");
    PreparedCache.Stored s = cachedRunsTrainAsUncached(yaml, JobConfig.Task.TABULAR_CLASSIFICATION, model);
    assertEquals(162, s.trainRows());
    assertEquals(41, s.evalRows());
    assertEquals(List.of("setosa", "versicolor", "virginica"), s.labelNames());
    assertNull(s.blockSize());
    JsonNode m = manifest(s);
    assertEquals("{\"features\":\"FLOAT32_LIST\",\"labels\":\"INT64\"}", m.get("features").toString());
    assertEquals("[\"setosa\",\"versicolor\",\"virginica\"]", m.get("label_names").toString());
    assertEquals(3, m.get("eval_batch_rows").asInt());
    // 162 rows in shards of ceil(162 / 16) = 11 rows.
    assertEquals(15, s.train().size(), s.train().toString());
    // Settings that change the rows are other fingerprints; settings that do not are the same.
    JobConfig base = job(yaml, "shared");
    String fp = PreparedCache.fingerprint(base, JobConfig.Task.TABULAR_CLASSIFICATION, model);
    for (String changed : List.of("data.test_size=0.3", "data.feature_scale=0.25", "data.split_seed=7",
        "data.feature_columns=[b, a]")) {
      assertNotEquals(fp, PreparedCache.fingerprint(job(yaml, "shared", changed),
          JobConfig.Task.TABULAR_CLASSIFICATION, model), changed);
    }
    assertEquals(fp, PreparedCache.fingerprint(job(yaml, "shared", "training_args.learning_rate=0.5"),
        JobConfig.Task.TABULAR_CLASSIFICATION, model));
    assertNotEquals(fp, PreparedCache.fingerprint(base, JobConfig.Task.TABULAR_CLASSIFICATION,
        AutoConfig.fromJson(MLP.replace("\"num_labels\": 3", "\"num_labels\": 4"), "test")));
    // A changed input file (size, modification time) is another fingerprint.
    Files.writeString(tmp.resolve("tabular.csv"), "a,b,flag,species\n1,2,true,setosa\n",
        java.nio.file.StandardOpenOption.APPEND);
    assertNotEquals(fp, PreparedCache.fingerprint(base, JobConfig.Task.TABULAR_CLASSIFICATION, model));
  }

  @Test
  void aMissingOrTruncatedShardNamesTheShardAndTheRank() throws Exception {
    String yaml = tabularYaml(tabularCsv(203));
    PreparedCache.Stored s = TrainJob.prepare(job(yaml, "shared"), JobConfig.Task.TABULAR_CLASSIFICATION,
        AutoConfig.fromJson(MLP, "test"), spark).manifest().stored();
    Path folder = Path.of(java.net.URI.create(s.folder()));
    // Eval shard 1 holds rows 3..5: eval batch 1 of 3 rows, rank 1's of 2.
    String name = s.eval().get(1).name();
    Path shard = folder.resolve(name);
    byte[] bytes = Files.readAllBytes(shard);
    Files.write(shard, Arrays.copyOf(bytes, bytes.length - 10));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> PreparedCache.open(s, 1, 2, 3, tmp.resolve("local")));
    assertEquals("rank 1: the prepared shard " + s.folder() + "/" + name + " is truncated or altered: "
        + (bytes.length - 10) + " bytes, the manifest says " + bytes.length, e.getMessage());
    try (RankShards.Spilled rank0 = PreparedCache.open(s, 0, 2, 3, tmp.resolve("local"))) {
      assertEquals(21, rank0.eval.numRows(), "rank 0 reads eval batches 0, 2, ... only");
    }
    // Same size, bytes not Arrow: the read fails naming the shard and the rank.
    Files.write(shard, new byte[bytes.length]);
    e = assertThrows(IllegalArgumentException.class, () -> PreparedCache.open(s, 1, 2, 3, tmp.resolve("local")));
    assertTrue(e.getMessage().startsWith("rank 1: cannot read the prepared shard " + s.folder() + "/" + name + ": "),
        e.getMessage());
    Files.delete(folder.resolve(s.train().get(0).name()));
    e = assertThrows(IllegalArgumentException.class, () -> PreparedCache.open(s, 0, 2, 3, tmp.resolve("local")));
    assertEquals("rank 0: the prepared shard " + s.folder() + "/" + s.train().get(0).name() + " is missing (listed"
        + " in " + s.folder() + "/" + PreparedCache.MANIFEST + ")", e.getMessage());
  }

  /**
   * Each rank reads only the record batches of its own evaluation batches (plus each shard's footer): about
   * 1/world_size of the eval shards' bytes, and exactly the rows the non-cache path deals it, in order.
   */
  @Test
  void eachRankReadsAboutItsShareOfTheEvalBytes() throws Exception {
    int width = 64;
    StringBuilder csv = new StringBuilder();
    for (int c = 0; c < width; c++) {
      csv.append('f').append(c).append(',');
    }
    csv.append("label\n");
    for (int r = 0; r < 400; r++) {
      for (int c = 0; c < width; c++) {
        csv.append((r * 31 + c * 7) % 13).append(',');
      }
      csv.append(r % 3).append('\n');
    }
    Path file = tmp.resolve("wide.csv");
    Files.writeString(file, csv);
    String mlp = "{\"model_type\": \"mlp\", \"input_size\": " + width + ", \"hidden_sizes\": [4], \"num_labels\": 3}";
    String yaml = String.join("\n", "model:", "  config: " + mlp, "data:", "  train_file: " + file,
        "  label_column: label", "  test_size: 0.25",
        "training_args: {output_dir: out, per_device_eval_batch_size: 4}", "world_size: 2", "");
    PreparedCache.Stored s = TrainJob.prepare(job(yaml, "shared"), JobConfig.Task.TABULAR_CLASSIFICATION,
        AutoConfig.fromJson(mlp, "test"), spark).manifest().stored();
    assertEquals(100, s.evalRows());
    long total = s.eval().stream().mapToLong(PreparedCache.Shard::bytes).sum();
    Path folder = Path.of(java.net.URI.create(s.folder()));
    try (Dataset all = ArrowFiles.open(folder, s.eval().stream().map(PreparedCache.Shard::name).toList(),
        s.features(), s.evalRows(), tmp.resolve("all"))) {
      List<Object> features = all.column("features");
      List<Object> labels = all.column("labels");
      for (int ws : new int[] {2, 4}) {
        long rows = 0;
        for (int r = 0; r < ws; r++) {
          try (RankShards.Spilled mine = PreparedCache.open(s, r, ws, 4, tmp.resolve("local" + ws + r))) {
            double share = mine.evalBytes / (double) total;
            System.out.printf("world size %d rank %d: read %d of %d eval shard bytes (%.3f)%n", ws, r,
                mine.evalBytes, total, share);
            assertTrue(share > 0.8 / ws && share < 1.3 / ws, "rank " + r + " of " + ws + " read " + share);
            List<Object> f = mine.eval.column("features");
            List<Object> l = mine.eval.column("labels");
            for (int i = 0; i < f.size(); i++) {
              int row = ((i / 4) * ws + r) * 4 + i % 4; // rank r holds eval batches r, r + ws, ...
              assertTrue(Arrays.equals((float[]) features.get(row), (float[]) f.get(i)), "eval row " + row);
              assertEquals(labels.get(row), l.get(i), "eval row " + row);
            }
            rows += f.size();
          }
        }
        assertEquals(100, rows);
      }
    }
  }

  // ------------------------------------------------------------------- sequence classification

  @Test
  void sequenceClassificationShardsAreReusedAndTrainAsWithoutTheCache() throws Exception {
    SparkRowsTest.Reviews d = SparkRowsTest.reviews(tmp);
    Path tok = d.tokenizer();
    String model = d.model();
    String yaml = String.join("\n", "model:", "  config: " + model, "data:", "  train_file: " + d.train(),
        "  tokenizer: " + tok, "  max_seq_length: 8", "metrics: [accuracy]",
        "training_args: {output_dir: out, per_device_train_batch_size: 8, disable_tqdm: true, seed: 5}",
        "world_size: 2", "");
    ModelConfig config = AutoConfig.fromJson(model, "test");
    PreparedCache.Stored stored = cachedRunsTrainAsUncached(yaml, JobConfig.Task.SEQUENCE_CLASSIFICATION, config);
    assertEquals(List.of("neg", "pos"), stored.labelNames());
    assertEquals(List.of("input_ids", "attention_mask", "labels"), stored.features().names());
    String fp = PreparedCache.fingerprint(job(yaml, "shared"), JobConfig.Task.SEQUENCE_CLASSIFICATION, config);
    assertNotEquals(fp, PreparedCache.fingerprint(job(yaml, "shared", "data.max_seq_length=6"),
        JobConfig.Task.SEQUENCE_CLASSIFICATION, config));
    // Another tokenizer (its files) is another fingerprint.
    Files.writeString(tok.resolve("tokenizer_config.json"), "{\"model_max_length\": 64}");
    assertNotEquals(fp, PreparedCache.fingerprint(job(yaml, "shared"), JobConfig.Task.SEQUENCE_CLASSIFICATION,
        config));
  }

  // -------------------------------------------------------------------------------------- sft

  @Test
  void sftShardsAreReusedAndTrainAsWithoutTheCache() throws Exception {
    Path tok = SftTest.tokenizerFolder(tmp.resolve("tok"), SftTest.PLAIN_TEMPLATE);
    String[] users = {"hi there", "how are you", "hi", "be brief"};
    String[] assistants = {"hello", "fine thanks", "hello there", "fine"};
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < 60; i++) {
      s.append("{\"messages\": [{\"role\": \"user\", \"content\": \"").append(users[i % 4])
          .append("\"}, {\"role\": \"assistant\", \"content\": \"").append(assistants[i % 3]).append("\"}]}\n");
    }
    Path train = tmp.resolve("chat.jsonl");
    Files.writeString(train, s);
    String yaml = String.join("\n", "task: sft", "model: {config: " + SftTest.LLAMA + "}", "data:",
        "  train_file: " + train, "  tokenizer: " + tok, "  assistant_only_loss: true", "metrics: [perplexity]",
        "training_args: {output_dir: out, per_device_train_batch_size: 4, disable_tqdm: true, seed: 7}",
        "world_size: 2", "");
    ModelConfig config = AutoConfig.fromJson(SftTest.LLAMA, "test");
    PreparedCache.Stored stored = cachedRunsTrainAsUncached(yaml, JobConfig.Task.SFT, config);
    assertEquals(48, stored.trainRows());
    assertNull(stored.labelNames());
    String fp = PreparedCache.fingerprint(job(yaml, "shared"), JobConfig.Task.SFT, config);
    for (String changed : List.of("data.assistant_only_loss=false", "data.max_seq_length=16")) {
      assertNotEquals(fp, PreparedCache.fingerprint(job(yaml, "shared", changed), JobConfig.Task.SFT, config),
          changed);
    }
    // Another chat template is another fingerprint.
    Files.writeString(tok.resolve("chat_template.jinja"), "{% for m in messages %}{{ m['content'] }}{% endfor %}");
    assertNotEquals(fp, PreparedCache.fingerprint(job(yaml, "shared"), JobConfig.Task.SFT, config));
  }
}
