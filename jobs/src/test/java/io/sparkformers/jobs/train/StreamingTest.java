package io.sparkformers.jobs.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import io.sparkformers.datasets.AutoTokenizer;
import io.sparkformers.datasets.DataFormat;
import io.sparkformers.datasets.Tokenizer;
import io.sparkformers.datasets.TokenizerTrainer;
import io.sparkformers.training.models.AutoConfig;
import io.sparkformers.training.models.CausalLmConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * data.streaming: each rank's part of the stream grouped into run_clm's blocks, read in order, and a run
 * resumed from a checkpoint continuing at the same place of the stream, to the bit.
 */
class StreamingTest {
  static SparkSession spark;

  @TempDir Path tmp;

  @BeforeAll
  static void startSpark() {
    spark = SparkSession.builder().master("local[2]").appName("streaming")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.scheduler.barrier.maxConcurrentTasksCheck.interval", "1s").getOrCreate();
  }

  @AfterAll
  static void stopSpark() {
    spark.stop();
  }

  static final List<String> WORDS = RankShardsTest.WORDS;

  private Path tokenizer() {
    Path tok = tmp.resolve("tok");
    TokenizerTrainer.byteLevelBpe().vocabSize(300).minFrequency(1).build().train(WORDS, tok);
    return tok;
  }

  private Path text(int lines) throws IOException {
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < lines; i++) {
      s.append("{\"text\": \"").append(WORDS.get(i % WORDS.size())).append(' ').append(i).append("\"}\n");
    }
    Path f = tmp.resolve("train.jsonl");
    Files.writeString(f, s);
    return f;
  }

  private static List<int[]> blocks(StreamBlocks s, long first, int n, int width) {
    try (NDManager m = NDManager.newBaseManager()) {
      long[] rows = new long[n];
      for (int i = 0; i < n; i++) {
        rows[i] = first + i;
      }
      long[] ids = s.batch(m, rows).get("input_ids").toLongArray();
      List<int[]> out = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        int[] b = new int[width];
        for (int t = 0; t < width; t++) {
          b[t] = (int) ids[i * width + t];
        }
        out.add(b);
      }
      return out;
    }
  }

  @Test
  void eachRankGroupsItsPartOfTheStreamAndAResumedReaderSkipsToItsRow() throws IOException {
    Path tok = tokenizer();
    Path train = text(300);
    List<Integer> all = new ArrayList<>();
    List<List<Integer>> byRank = List.of(new ArrayList<>(), new ArrayList<>());
    try (Tokenizer t = AutoTokenizer.fromPretrained(tok)) {
      for (int i = 0; i < 300; i++) {
        for (int id : t.encode(WORDS.get(i % WORDS.size()) + " " + i).inputIds()) {
          all.add(id);
          byRank.get(i % 2).add(id); // one file on two ranks: rank r keeps examples r, r + 2, ...
        }
      }
    }
    StreamBlocks.Spec unshuffled = new StreamBlocks.Spec(List.of(train.toString()), DataFormat.JSON, Map.of(),
        "text", tok.toString(), 8, 1, 1, 40, "train.jsonl");
    try (StreamBlocks one = new StreamBlocks(unshuffled, 0, 1)) {
      List<int[]> first = blocks(one, 0, 10, 8);
      for (int b = 0; b < 10; b++) {
        for (int t = 0; t < 8; t++) {
          assertEquals((int) all.get(b * 8 + t), first.get(b)[t], "block " + b + " token " + t);
        }
      }
    }
    for (int r = 0; r < 2; r++) {
      try (StreamBlocks mine = new StreamBlocks(unshuffled, r, 2)) {
        List<int[]> got = blocks(mine, 0, 5, 8);
        for (int b = 0; b < 5; b++) {
          for (int t = 0; t < 8; t++) {
            assertEquals((int) byRank.get(r).get(b * 8 + t), got.get(b)[t], "rank " + r + " block " + b);
          }
        }
      }
    }
    // Shuffled: a reader that starts at row 7 (a resumed run) gets the blocks the first reader got there.
    StreamBlocks.Spec shuffled = new StreamBlocks.Spec(List.of(train.toString()), DataFormat.JSON, Map.of(),
        "text", tok.toString(), 8, 5, 64, 40, "train.jsonl");
    try (StreamBlocks a = new StreamBlocks(shuffled, 1, 2); StreamBlocks b = new StreamBlocks(shuffled, 1, 2)) {
      List<int[]> from0 = blocks(a, 0, 12, 8);
      List<int[]> from7 = blocks(b, 7, 5, 8);
      assertEquals(7, b.skipped());
      for (int i = 0; i < 5; i++) {
        assertArrayEquals(from0.get(7 + i), from7.get(i), "block " + (7 + i));
      }
      boolean reordered = false;
      try (StreamBlocks plain = new StreamBlocks(unshuffled, 1, 2)) {
        List<int[]> p = blocks(plain, 0, 12, 8);
        for (int i = 0; i < 12; i++) {
          reordered |= !java.util.Arrays.equals(p.get(i), from0.get(i));
        }
      }
      assertTrue(reordered, "the shuffle buffer changes the order");
      assertThrows(IllegalStateException.class, () -> blocks(b, 3, 1, 8), "a stream does not go back");
    }
  }

  private String job(Path train, Path tok, String extra) throws IOException {
    int vocab;
    try (Tokenizer t = AutoTokenizer.fromPretrained(tok)) {
      vocab = t.vocabSize();
    }
    return String.join("\n",
        "task: causal_lm",
        "model:",
        "  config: {model_type: gpt2, vocab_size: " + vocab + ", n_positions: 16, n_embd: 16, n_layer: 1, n_head: 2}",
        "data:",
        "  train_file: " + train,
        "  tokenizer: " + tok,
        "  block_size: 8",
        "  streaming: true",
        "  shuffle_buffer_size: 32",
        "training_args: {max_steps: 6, save_steps: 3, per_device_train_batch_size: 2, disable_tqdm: true,"
            + " logging_steps: 3, seed: 11" + extra + "}",
        "world_size: 2",
        "");
  }

  @Test
  void aStreamingRunResumedFromItsCheckpointEqualsTheUninterruptedRunBitForBit() throws Exception {
    Path tok = tokenizer();
    Path train = text(400);
    Path a = tmp.resolve("a");
    Map<String, Double> whole = TrainJob.run(JobConfig.parse(job(train, tok, ", output_dir: " + a), "a.yaml",
        List.of()), spark);
    assertEquals(6.0, whole.get("global_step"));
    assertEquals(12.0, whole.get("stream_blocks_per_rank"));
    Path b = tmp.resolve("b");
    copy(a.resolve("checkpoint-3"), b.resolve("checkpoint-3"));
    Map<String, Double> resumed = TrainJob.run(JobConfig.parse(job(train, tok, ", output_dir: " + b
        + ", resume_from_checkpoint: " + b.resolve("checkpoint-3")), "b.yaml", List.of()), spark);
    assertEquals(6.0, resumed.get("global_step"));
    assertEquals(6.0, resumed.get("stream_blocks_skipped"), "3 steps of 2 blocks skipped on resume");
    byte[] uninterrupted = Files.readAllBytes(a.resolve("model/model.safetensors"));
    assertArrayEquals(uninterrupted, Files.readAllBytes(b.resolve("model/model.safetensors")));
    assertTrue(!java.util.Arrays.equals(uninterrupted,
        Files.readAllBytes(a.resolve("checkpoint-3/model.safetensors"))), "steps 4 to 6 trained");
  }

  @Test
  void streamingNeedsMaxStepsAndCausalLm() throws IOException {
    Path tok = tokenizer();
    Path train = text(10);
    String noSteps = job(train, tok, ", output_dir: " + tmp.resolve("x")).replace("max_steps: 6, ", "");
    CausalLmConfig model = (CausalLmConfig) AutoConfig.fromJson("{\"model_type\": \"gpt2\", \"vocab_size\": 300,"
        + " \"n_positions\": 16, \"n_embd\": 16, \"n_layer\": 1, \"n_head\": 2}", "t");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TrainJob.streamSpec(
        JobConfig.parse(noSteps, "s.yaml", List.of()), JobConfig.Task.CAUSAL_LM, model));
    assertEquals("s.yaml: key 'data.streaming' needs training_args.max_steps: a stream has no length to count"
        + " epochs by", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> TrainJob.streamSpec(
        JobConfig.parse(job(train, tok, ", output_dir: " + tmp.resolve("y")), "s.yaml", List.of()),
        JobConfig.Task.SFT, model));
    assertEquals("s.yaml: key 'data.streaming' is for task causal_lm; the task is sft", e.getMessage());
  }

  private static void copy(Path from, Path to) throws IOException {
    try (var all = Files.walk(from)) {
      for (Path p : (Iterable<Path>) all::iterator) {
        Path dst = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(dst);
        } else {
          Files.copy(p, dst);
        }
      }
    }
  }
}
