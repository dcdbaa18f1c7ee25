package io.sparkformers.jobs.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkformers.datasets.AutoTokenizer;
import io.sparkformers.datasets.Tokenizer;
import io.sparkformers.datasets.TokenizerTrainer;
import io.sparkformers.training.models.AutoConfig;
import io.sparkformers.training.models.CausalLmConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import scala.Tuple2;

/**
 * Prepared rows dealt to the ranks: train rows as datasets' split_dataset_by_node cuts them, eval rows by
 * batch, and run_clm's blocks made by Spark jobs equal to the blocks made in one process.
 */
class RankShardsTest {
  static SparkSession spark;

  @TempDir Path tmp;

  @BeforeAll
  static void startSpark() {
    spark = SparkSession.builder().master("local[2]").appName("rank-shards")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false").getOrCreate();
  }

  @AfterAll
  static void stopSpark() {
    spark.stop();
  }

  @Test
  void trainRowsAreCutAsSplitDatasetByNodeCutsThem() {
    // datasets: shard(num_shards=3, index, contiguous=True) of 10 rows is [0, 4), [4, 7), [7, 10).
    assertEquals(List.of(0L, 4L, 7L), List.of(RankShards.shardStart(10, 3, 0), RankShards.shardStart(10, 3, 1),
        RankShards.shardStart(10, 3, 2)));
    assertEquals(10, RankShards.shardEnd(10, 3, 2));
    for (int ws = 1; ws <= 5; ws++) {
      for (long n = ws; n <= 40; n++) {
        for (int r = 0; r < ws; r++) {
          for (long row = RankShards.shardStart(n, ws, r); row < RankShards.shardEnd(n, ws, r); row++) {
            assertEquals(r, RankShards.trainRank(row, n, ws), "row " + row + " of " + n + " on " + ws + " ranks");
          }
        }
      }
    }
  }

  static final List<String> WORDS = List.of("the film was good and the cast was great", "a bad plot and a dull cast",
      "good fun, great music", "dull, slow and bad", "the music was great fun", "slow, bad and dull music");

  /** A text file of {@code lines}, a byte-level BPE tokenizer trained on the words, and a gpt2 config for it. */
  private record Corpus(Path text, Path tok, String model) {}

  private Corpus corpus(List<String> lines) throws IOException {
    Path tok = tmp.resolve("tok");
    TokenizerTrainer.byteLevelBpe().vocabSize(300).minFrequency(1).build().train(WORDS, tok);
    Path text = tmp.resolve("train.txt");
    Files.writeString(text, String.join("\n", lines) + "\n");
    try (Tokenizer t = AutoTokenizer.fromPretrained(tok)) {
      return new Corpus(text, tok, "{\"model_type\": \"gpt2\", \"vocab_size\": " + t.vocabSize()
          + ", \"n_positions\": 32, \"n_embd\": 8, \"n_layer\": 1, \"n_head\": 2}");
    }
  }

  private static List<String> numbered(int n) {
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      lines.add(WORDS.get(i % WORDS.size()) + " " + i);
    }
    return lines;
  }

  @Test
  void causalLmBlocksMadeBySparkEqualOneProcessAndReachTheirRanks() throws IOException {
    // More than two group_texts batches of 1000 rows, of uneven lengths, with the first 10% held out.
    Corpus c = corpus(numbered(2345));
    Path text = c.text();
    Path tok = c.tok();
    String model = c.model();
    String yaml = "model:\n  config: " + model + "\ndata:\n  train_file: " + text + "\n  tokenizer: " + tok
        + "\n  block_size: 16\n  validation_split_percentage: 10\ntraining_args: {output_dir: out}\nworld_size: 2\n";
    CausalLmConfig config = (CausalLmConfig) AutoConfig.fromJson(model, "test");
    JobData.Prepared inOneProcess = JobData.prepare(JobConfig.parse(yaml, "job.yaml",
        List.of("data.use_spark=false", "data.cache_dir=" + tmp.resolve("cache1"))), JobConfig.Task.CAUSAL_LM,
        config, null);
    RankShards.Prepared onSpark = SparkCausalLm.prepare(JobConfig.parse(yaml, "job.yaml",
        List.of("data.cache_dir=" + tmp.resolve("cache2"))), config, spark, 3);
    RankShards.Manifest m = onSpark.manifest();
    assertEquals(inOneProcess.train().rows(), m.trainRows());
    assertEquals(inOneProcess.eval().rows(), m.evalRows());
    assertTrue(m.trainRows() > 2 * 1000 / 16, "blocks: " + m.trainRows());
    List<Tuple2<Integer, Tuple2<Long, Object[]>>> seen = onSpark.rows().mapPartitionsWithIndex((p, it) -> {
      List<Tuple2<Integer, Tuple2<Long, Object[]>>> out = new ArrayList<>();
      it.forEachRemaining(row -> out.add(new Tuple2<>(p, row)));
      return out.iterator();
    }, true).collect();
    long[] nextTrain = {RankShards.shardStart(m.trainRows(), 2, 0), RankShards.shardStart(m.trainRows(), 2, 1)};
    long[] nextEval = {0, 3};
    for (Tuple2<Integer, Tuple2<Long, Object[]>> s : seen) {
      int rank = s._1();
      long key = s._2()._1();
      int[] block = (int[]) s._2()._2()[0];
      boolean eval = (key & RankShards.EVAL) != 0;
      long index = key & ~RankShards.EVAL;
      TensorColumns expected = eval ? inOneProcess.eval() : inOneProcess.train();
      if (eval) {
        assertEquals(nextEval[rank], index, "rank " + rank + " takes eval batches rank, rank + 2, ... in order");
        nextEval[rank] = index % 3 == 2 ? index + 4 : index + 1;
      } else {
        assertEquals(nextTrain[rank], index, "rank " + rank + "'s train rows are contiguous and in order");
        nextTrain[rank]++;
      }
      long[] want = Arrays.copyOfRange(expected.longColumn("input_ids"), (int) index * 16, (int) index * 16 + 16);
      assertArrayEquals(want, Arrays.stream(block).asLongStream().toArray(), (eval ? "eval" : "train")
          + " block " + index);
    }
    assertEquals(RankShards.shardEnd(m.trainRows(), 2, 0), nextTrain[0]);
    assertEquals(m.trainRows(), nextTrain[1]);
    assertEquals(m.evalRows(), seen.stream().filter(s -> (s._2()._1() & RankShards.EVAL) != 0).count());
  }

  @Test
  void aBadTokenIdInATaskNamesTheFileAndTheRow() throws IOException {
    Path data = tmp.resolve("ids.jsonl");
    Files.writeString(data, "{\"input_ids\": [1, 2, 3]}\n{\"input_ids\": [4, 99, 5]}\n");
    String model = "{\"model_type\": \"gpt2\", \"vocab_size\": 50, \"n_positions\": 32, \"n_embd\": 8,"
        + " \"n_layer\": 1, \"n_head\": 2}";
    String yaml = "model:\n  config: " + model + "\ndata:\n  train_file: " + data + "\n  eval_file: " + data
        + "\n  block_size: 2\ntraining_args: {output_dir: out}\n";
    JobConfig job = JobConfig.parse(yaml, "job.yaml", List.of("data.cache_dir=" + tmp.resolve("cache")));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SparkCausalLm.prepare(job,
        (CausalLmConfig) AutoConfig.fromJson(model, "test"), spark, 1));
    assertTrue(e.getMessage().startsWith(data + " row 1: token id 99 is not in the model's vocabulary (vocab_size"
        + " 50)"), e.getMessage());
  }

  @Test
  void preparedShardsOnTheCacheDirAreReusedAndReadByRankInOneGlobalOrder() throws Exception {
    Corpus c = corpus(numbered(1500));
    Path text = c.text();
    Path tok = c.tok();
    String model = c.model();
    String yaml = "model:\n  config: " + model + "\ndata:\n  train_file: " + text + "\n  tokenizer: " + tok
        + "\n  block_size: 16\ntraining_args: {output_dir: out}\nworld_size: 2\n";
    CausalLmConfig config = (CausalLmConfig) AutoConfig.fromJson(model, "test");
    Path cache = tmp.resolve("shared");
    JobConfig job = JobConfig.parse(yaml, "job.yaml", List.of("data.cache_dir=" + cache));
    RankShards.Prepared first = TrainJob.prepare(job, JobConfig.Task.CAUSAL_LM, config, spark);
    PreparedCache.Stored stored = first.manifest().stored();
    assertTrue(stored != null && first.rows() == null, "the ranks read the cache, no rows go with the stage");
    Path folder = Path.of(java.net.URI.create(stored.folder()));
    assertTrue(Files.isRegularFile(folder.resolve(PreparedCache.MANIFEST)));
    long written = Files.getLastModifiedTime(folder.resolve(stored.train().get(0).name())).toMillis();
    try (var listing = Files.list(folder.getParent())) {
      assertEquals(1, listing.count(), "one cache folder, no temporary one left");
    }
    // A second run with the same inputs and settings finds the shards: nothing is prepared or written again.
    Thread.sleep(20);
    RankShards.Prepared again = TrainJob.prepare(job, JobConfig.Task.CAUSAL_LM, config, spark);
    assertEquals(stored, again.manifest().stored());
    assertEquals(written, Files.getLastModifiedTime(folder.resolve(stored.train().get(0).name())).toMillis());
    // Another block size is another fingerprint.
    RankShards.Prepared other = TrainJob.prepare(JobConfig.parse(yaml.replace("block_size: 16", "block_size: 8"),
        "job.yaml", List.of("data.cache_dir=" + cache)), JobConfig.Task.CAUSAL_LM, config, spark);
    assertTrue(!other.manifest().stored().folder().equals(stored.folder()));

    JobData.Prepared inOneProcess = JobData.prepare(JobConfig.parse(yaml, "job.yaml",
        List.of("data.use_spark=false", "data.cache_dir=" + tmp.resolve("cache1"))), JobConfig.Task.CAUSAL_LM,
        config, null);
    long[] expected = inOneProcess.train().longColumn("input_ids");
    long[] expectedEval = inOneProcess.eval().longColumn("input_ids");
    // Whatever the world size, the ranks' train rows in rank order are the global order, each read once.
    for (int ws : new int[] {1, 2, 3}) {
      List<Long> all = new ArrayList<>();
      List<Long> evalSeen = new ArrayList<>();
      for (int r = 0; r < ws; r++) {
        try (RankShards.Spilled mine = PreparedCache.open(stored, r, ws, 5, tmp.resolve("local" + r))) {
          assertEquals(RankShards.shardEnd(stored.trainRows(), ws, r) - RankShards.shardStart(stored.trainRows(), ws, r),
              mine.train.numRows());
          for (Object row : mine.train.column("input_ids")) {
            for (int id : (int[]) row) {
              all.add((long) id);
            }
          }
          assertArrayEquals((int[]) mine.train.column("input_ids").get(0), (int[]) mine.train.column("labels").get(0));
          List<Object> ev = mine.eval.column("input_ids");
          for (int i = 0; i < ev.size(); i++) {
            long row = ((i / 5) * (long) ws + r) * 5 + i % 5; // rank r holds eval batches r, r + ws, ...
            evalSeen.add(row);
            assertArrayEquals(Arrays.copyOfRange(expectedEval, (int) row * 16, (int) row * 16 + 16),
                Arrays.stream((int[]) ev.get(i)).asLongStream().toArray(), "eval row " + row);
          }
        }
      }
      assertArrayEquals(expected, all.stream().mapToLong(Long::longValue).toArray(), "world size " + ws);
      assertEquals(stored.evalRows(), evalSeen.stream().distinct().count());
    }
  }

  @Test
  void aMissingOrTruncatedShardNamesTheShardAndTheRank() throws Exception {
    Corpus c = corpus(numbered(12));
    Path text = c.text();
    Path tok = c.tok();
    String model = c.model();
    String yaml = "model:\n  config: " + model + "\ndata:\n  train_file: " + text + "\n  eval_file: " + text
        + "\n  tokenizer: " + tok + "\n  block_size: 4\ntraining_args: {output_dir: out}\nworld_size: 2\n";
    JobConfig job = JobConfig.parse(yaml, "job.yaml", List.of("data.cache_dir=" + tmp.resolve("shared")));
    PreparedCache.Stored stored = TrainJob.prepare(job, JobConfig.Task.CAUSAL_LM,
        (CausalLmConfig) AutoConfig.fromJson(model, "test"), spark).manifest().stored();
    Path folder = Path.of(java.net.URI.create(stored.folder()));
    // The last train shard is rank 1's (of 2), the first rank 0's.
    String last = stored.train().get(stored.train().size() - 1).name();
    Path shard = folder.resolve(last);
    byte[] bytes = Files.readAllBytes(shard);
    Files.write(shard, Arrays.copyOf(bytes, bytes.length / 2));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> PreparedCache.open(stored, 1, 2, 4, tmp.resolve("local")));
    assertTrue(e.getMessage().startsWith("rank 1: the prepared shard ") && e.getMessage().contains(
        last + " is truncated or altered: " + bytes.length / 2 + " bytes, the manifest says " + bytes.length),
        e.getMessage());
    try (RankShards.Spilled rank0 = PreparedCache.open(stored, 0, 2, 4, tmp.resolve("local"))) {
      assertTrue(rank0.train.numRows() > 0, "rank 0 does not read rank 1's shard");
    }
    Files.delete(folder.resolve(stored.train().get(0).name()));
    e = assertThrows(IllegalArgumentException.class, () -> PreparedCache.open(stored, 0, 2, 4, tmp.resolve("local")));
    assertTrue(e.getMessage().startsWith("rank 0: the prepared shard ") && e.getMessage().contains(
        stored.train().get(0).name() + " is missing"), e.getMessage());
  }
}
