package io.sparkformers.jobs.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkformers.datasets.AutoTokenizer;
import io.sparkformers.datasets.Tokenizer;
import io.sparkformers.datasets.TokenizerTrainer;
import io.sparkformers.training.models.AutoConfig;
import io.sparkformers.training.models.ModelConfig;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import scala.Tuple2;

/**
 * tabular_classification, sequence_classification and sft prepared by Spark tasks: the rows equal the rows made
 * in one process, each reaches its rank's partition, the barrier closure carries the manifest only, and training
 * on 2 ranks over them gives what training over the driver-prepared rows gives.
 */
class SparkRowsTest {
  static SparkSession spark;

  @TempDir Path tmp;

  @BeforeAll
  static void startSpark() {
    spark = SparkSession.builder().master("local[2]").appName("spark-rows")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.scheduler.barrier.maxConcurrentTasksCheck.interval", "1s").getOrCreate();
  }

  @AfterAll
  static void stopSpark() {
    spark.stop();
  }

  private JobConfig job(String yaml, boolean useSpark, String cache, String... overrides) {
    List<String> all = new ArrayList<>(List.of(overrides));
    if (cache != null) { // with use_spark a cache_dir also holds the prepared shards the ranks read
      all.add("data.cache_dir=" + tmp.resolve(cache));
    }
    all.add("data.use_spark=" + useSpark);
    return JobConfig.parse(yaml, "job.yaml", all);
  }

  /**
   * Prepares {@code yaml}'s data both ways, checks every row made by Spark against the one-process row of the
   * same split and index and that it sits in its rank's partition in order, and that the rank's closure is the
   * manifest's size, not the data's. Returns the manifest.
   */
  private RankShards.Manifest sameRowsOnTheirRanks(String yaml, JobConfig.Task task, ModelConfig model)
      throws IOException {
    JobData.Prepared inOneProcess = JobData.prepare(job(yaml, false, "cache1"), task, model, null);
    JobConfig onSparkJob = job(yaml, true, "cache2");
    RankShards.Prepared onSpark = SparkRows.prepare(onSparkJob, task, model, spark, 3);
    try {
      RankShards.Manifest m = onSpark.manifest();
      assertEquals(inOneProcess.train().rows(), m.trainRows());
      assertEquals(inOneProcess.eval().rows(), m.evalRows());
      assertEquals(inOneProcess.labelNames(), m.labelNames());
      assertEquals(List.copyOf(inOneProcess.train().widths().keySet()), m.features().names());
      assertEquals(2, onSpark.rows().getNumPartitions());
      List<Tuple2<Integer, Tuple2<Long, Object[]>>> seen = onSpark.rows().mapPartitionsWithIndex((p, it) -> {
        List<Tuple2<Integer, Tuple2<Long, Object[]>>> out = new ArrayList<>();
        it.forEachRemaining(row -> out.add(new Tuple2<>(p, row)));
        return out.iterator();
      }, true).collect();
      assertEquals(m.trainRows() + m.evalRows(), seen.size());
      long[] nextTrain = {0, RankShards.shardStart(m.trainRows(), 2, 1)};
      for (Tuple2<Integer, Tuple2<Long, Object[]>> s : seen) {
        long key = s._2()._1();
        boolean eval = (key & RankShards.EVAL) != 0;
        int index = (int) (key & ~RankShards.EVAL);
        int rank = s._1();
        if (eval) {
          assertEquals(rank, index / 3 % 2, "eval row " + index + " is in batch " + index / 3);
        } else {
          assertEquals(nextTrain[rank]++, index, "rank " + rank + "'s train rows are contiguous and in order");
        }
        TensorColumns expected = eval ? inOneProcess.eval() : inOneProcess.train();
        List<String> names = new ArrayList<>(expected.widths().keySet());
        for (int k = 0; k < names.size(); k++) {
          String name = names.get(k);
          int w = expected.widths().get(name);
          Object v = s._2()._2()[k];
          String what = (eval ? "eval" : "train") + " row " + index + " " + name;
          if (expected.floatColumn(name) != null) {
            assertArrayEquals(Arrays.copyOfRange(expected.floatColumn(name), index * w, (index + 1) * w),
                (float[]) v, what);
          } else if (w == 1) {
            assertEquals(expected.longColumn(name)[index], ((Number) v).longValue(), what);
          } else {
            assertArrayEquals(Arrays.copyOfRange(expected.longColumn(name), index * w, (index + 1) * w),
                Arrays.stream((int[]) v).asLongStream().toArray(), what);
          }
        }
      }
      assertEquals(RankShards.shardEnd(m.trainRows(), 2, 0), nextTrain[0]);
      assertEquals(m.trainRows(), nextTrain[1]);
      // What the barrier stage's closure carries: the job and the manifest, whatever the number of rows.
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
        out.writeObject(new TrainJob.Rank(onSparkJob, task, m));
      }
      assertTrue(bytes.size() < 16_384, "closure bytes " + bytes.size());
      return m;
    } finally {
      onSpark.release().run();
    }
  }

  /**
   * Trains on 2 ranks over the rows prepared by Spark tasks and over the rows prepared in the driver: the same
   * rows on the same ranks give the same losses; each rank read its part of the data from its own Arrow file.
   */
  private Map<String, Double> trainsAsTheDriverPreparedRows(String yaml) throws IOException {
    String args = "training_args.num_train_epochs=1";
    Map<String, Double> driver = TrainJob.run(job(yaml, false, "cache3", args,
        "training_args.output_dir=" + tmp.resolve("out-driver")), spark);
    Map<String, Double> executors = TrainJob.run(job(yaml, true, null, args,
        "training_args.output_dir=" + tmp.resolve("out-executors")), spark);
    for (String key : List.of("train_loss", "eval_loss", "train_rows", "eval_rows", "global_step")) {
      assertEquals(driver.get(key), executors.get(key), key);
    }
    assertTrue(executors.get("train_loss") > 0 && Double.isFinite(executors.get("eval_loss")), executors.toString());
    assertEquals(driver.get("shard_bytes_rank_0"), executors.get("shard_bytes_rank_0"));
    assertEquals(driver.get("shard_bytes_rank_1"), executors.get("shard_bytes_rank_1"));
    assertTrue(executors.get("shard_bytes_rank_0") > 0 && executors.get("shard_bytes_rank_1") > 0);
    return executors;
  }

  // ------------------------------------------------------------------------------- tabular

  static final String MLP = "{\"model_type\": \"mlp\", \"input_size\": 2, \"hidden_sizes\": [4], \"num_labels\": 3}";

  private Path tabularCsv(int rows) throws IOException {
    return tabularCsv(tmp, rows);
  }

  /** {@code dir/tabular.csv}: two numeric columns, a boolean and three species as string labels. */
  static Path tabularCsv(Path dir, int rows) throws IOException {
    StringBuilder s = new StringBuilder("a,b,flag,species\n");
    String[] species = {"setosa", "versicolor", "virginica"};
    for (int i = 0; i < rows; i++) {
      s.append(i % 7).append(',').append(i * 0.25).append(',').append(i % 2 == 0).append(',')
          .append(species[i % 3]).append('\n');
    }
    Path f = dir.resolve("tabular.csv");
    Files.writeString(f, s);
    return f;
  }

  private String tabularYaml(Path csv) {
    return String.join("\n", "model:", "  config: " + MLP, "data:", "  train_file: " + csv,
        "  label_column: species", "  feature_columns: [a, b]", "  feature_scale: 0.5",
        "training_args: {output_dir: out, per_device_train_batch_size: 8, disable_tqdm: true, seed: 3}",
        "world_size: 2", "");
  }

  @Test
  void tabularRowsMadeBySparkEqualOneProcessAndTrainTheSameOnTwoRanks() throws IOException {
    String yaml = tabularYaml(tabularCsv(203));
    RankShards.Manifest m = sameRowsOnTheirRanks(yaml, JobConfig.Task.TABULAR_CLASSIFICATION,
        AutoConfig.fromJson(MLP, "test"));
    assertEquals(List.of("setosa", "versicolor", "virginica"), m.labelNames());
    // datasets' train_test_split(test_size=0.2) of 203 rows holds out ceil(40.6) = 41.
    assertEquals(162, m.trainRows());
    Map<String, Double> r = trainsAsTheDriverPreparedRows(yaml);
    assertEquals(162.0, r.get("train_rows"));
  }

  @Test
  void aBadRowInASparkTaskNamesTheFileAndTheRow() throws IOException {
    Path csv = tmp.resolve("bad.csv");
    Files.writeString(csv, "a,b,species\n1,2,x\n3,,y\n5,6,z\n");
    String yaml = tabularYaml(csv).replace("  feature_columns: [a, b]\n", "");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SparkRows.prepare(
        job(yaml, true, "cache", "data.eval_file=" + csv), JobConfig.Task.TABULAR_CLASSIFICATION,
        AutoConfig.fromJson(MLP, "test"), spark, 1));
    assertEquals(csv + " row 1: feature column 'b' is empty; expected a number", e.getMessage());
    Files.writeString(csv, "a,b,species\n1,2,x\n3,4,\n5,6,z\n");
    e = assertThrows(IllegalArgumentException.class, () -> SparkRows.prepare(
        job(yaml, true, "cache", "data.eval_file=" + csv), JobConfig.Task.TABULAR_CLASSIFICATION,
        AutoConfig.fromJson(MLP, "test"), spark, 1));
    assertEquals(csv + " row 1: label column 'species' is empty", e.getMessage());
  }

  // ------------------------------------------------------------------- sequence classification

  @Test
  void sequenceClassificationRowsMadeBySparkEqualOneProcessAndTrainTheSameOnTwoRanks() throws IOException {
    Reviews d = reviews(tmp);
    String model = d.model();
    String yaml = String.join("\n", "model:", "  config: " + model, "data:", "  train_file: " + d.train(),
        "  tokenizer: " + d.tokenizer(), "  max_seq_length: 8",
        "training_args: {output_dir: out, per_device_train_batch_size: 8, disable_tqdm: true, seed: 5}",
        "world_size: 2", "");
    RankShards.Manifest m = sameRowsOnTheirRanks(yaml, JobConfig.Task.SEQUENCE_CLASSIFICATION,
        AutoConfig.fromJson(model, "test"));
    assertEquals(List.of("neg", "pos"), m.labelNames());
    assertEquals(120, m.trainRows());
    trainsAsTheDriverPreparedRows(yaml);
  }

  /** Sequence classification data: a WordPiece tokenizer, 150 labelled texts and a tiny BERT of its vocabulary. */
  record Reviews(Path tokenizer, Path train, String model) {}

  /** {@link Reviews} under {@code dir}: bert-tok/, text.jsonl (pos when a text says good or great, else neg). */
  static Reviews reviews(Path dir) throws IOException {
    Path tok = dir.resolve("bert-tok");
    TokenizerTrainer.wordPiece().vocabSize(120).minFrequency(1).build().train(RankShardsTest.WORDS, tok);
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < 150; i++) {
      String l = RankShardsTest.WORDS.get(i % RankShardsTest.WORDS.size()) + (i % 4 == 0 ? " and more" : "");
      s.append("{\"text\": \"").append(l).append("\", \"label\": \"")
          .append(l.contains("good") || l.contains("great") ? "pos" : "neg").append("\"}\n");
    }
    Path train = dir.resolve("text.jsonl");
    Files.writeString(train, s);
    try (Tokenizer t = AutoTokenizer.fromPretrained(tok)) {
      return new Reviews(tok, train, JobDataTest.bert(t.vocabSize()));
    }
  }

  // -------------------------------------------------------------------------------------- sft

  @Test
  void sftRowsMadeBySparkEqualOneProcessAndTrainTheSameOnTwoRanks() throws IOException {
    Path tok = SftTest.tokenizerFolder(tmp.resolve("tok"), SftTest.PLAIN_TEMPLATE);
    String[] users = {"hi there", "how are you", "hi", "be brief"};
    String[] assistants = {"hello", "fine thanks", "hello there", "fine"};
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < 60; i++) {
      s.append("{\"messages\": [{\"role\": \"user\", \"content\": \"").append(users[i % 4])
          .append("\"}, {\"role\": \"assistant\", \"content\": \"").append(assistants[i % 3]).append("\"}")
          .append(i % 5 == 0 ? ", {\"role\": \"user\", \"content\": \"how are you\"}, {\"role\": \"assistant\","
              + " \"content\": \"fine thanks\"}" : "")
          .append("]}\n");
    }
    Path train = tmp.resolve("chat.jsonl");
    Files.writeString(train, s);
    String yaml = String.join("\n", "task: sft", "model: {config: " + SftTest.LLAMA + "}", "data:",
        "  train_file: " + train, "  tokenizer: " + tok, "  assistant_only_loss: true",
        "training_args: {output_dir: out, per_device_train_batch_size: 4, disable_tqdm: true, seed: 7}",
        "world_size: 2", "");
    RankShards.Manifest m = sameRowsOnTheirRanks(yaml, JobConfig.Task.SFT, AutoConfig.fromJson(SftTest.LLAMA,
        "test"));
    assertEquals(48, m.trainRows());
    trainsAsTheDriverPreparedRows(yaml);
  }
}
