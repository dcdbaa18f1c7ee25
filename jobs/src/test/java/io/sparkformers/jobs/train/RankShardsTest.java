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

  @Test
  void causalLmBlocksMadeBySparkEqualOneProcessAndReachTheirRanks() throws IOException {
    Path tok = tmp.resolve("tok");
    TokenizerTrainer.byteLevelBpe().vocabSize(300).minFrequency(1).build().train(WORDS, tok);
    // More than two group_texts batches of 1000 rows, of uneven lengths, with the first 10% held out.
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 2345; i++) {
      lines.add(WORDS.get(i % WORDS.size()) + " " + i);
    }
    Path text = tmp.resolve("train.txt");
    Files.writeString(text, String.join("\n", lines) + "\n");
    String model;
    try (Tokenizer t = AutoTokenizer.fromPretrained(tok)) {
      model = "{\"model_type\": \"gpt2\", \"vocab_size\": " + t.vocabSize() + ", \"n_positions\": 32, \"n_embd\": 8,"
          + " \"n_layer\": 1, \"n_head\": 2}";
    }
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
}
