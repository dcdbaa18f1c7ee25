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
 * resumed from a checkpoint continuing at the same place of the stream, to the bit: from each rank's stream
 * state (reading none of what was trained on), or by skipping for a checkpoint written without one.
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
    // Each rank continues from its data_state_<rank>.json: nothing is skipped or read again. One file on 2 ranks:
    // each reads its 400 rows and keeps every other one; its 200 rows (one group of at most 1000) gave more
    // blocks than the 12 trained on, and those after the checkpoint's 6 are in its state, so the resumed rank
    // reads no row at all.
    assertEquals(0.0, resumed.get("stream_blocks_skipped"));
    assertEquals(400.0, whole.get("stream_rows_read"));
    assertEquals(0.0, resumed.get("stream_rows_read"));
    assertEquals(0.0, resumed.get("stream_rows_read_to_resume"));
    assertTrue(Files.exists(b.resolve("checkpoint-3/data_state_1.json")));
    byte[] uninterrupted = Files.readAllBytes(a.resolve("model/model.safetensors"));
    assertArrayEquals(uninterrupted, Files.readAllBytes(b.resolve("model/model.safetensors")));
    assertTrue(!java.util.Arrays.equals(uninterrupted,
        Files.readAllBytes(a.resolve("checkpoint-3/model.safetensors"))), "steps 4 to 6 trained");

    // A checkpoint written before data states were recorded: the blocks trained on are read again and skipped.
    Path c = tmp.resolve("c");
    copy(a.resolve("checkpoint-3"), c.resolve("checkpoint-3"));
    for (int r = 0; r < 2; r++) {
      Files.delete(c.resolve("checkpoint-3/data_state_" + r + ".json"));
    }
    Path sums = c.resolve("checkpoint-3/checksums.sha256");
    Files.write(sums, Files.readAllLines(sums).stream().filter(l -> !l.contains("data_state_")).toList());
    Map<String, Double> legacy = TrainJob.run(JobConfig.parse(job(train, tok, ", output_dir: " + c
        + ", resume_from_checkpoint: " + c.resolve("checkpoint-3")), "c.yaml", List.of()), spark);
    assertEquals(6.0, legacy.get("stream_blocks_skipped"), "3 steps of 2 blocks skipped on resume");
    assertArrayEquals(uninterrupted, Files.readAllBytes(c.resolve("model/model.safetensors")));

    // Another world size cannot continue a stream split by node.
    Path d = tmp.resolve("d");
    copy(a.resolve("checkpoint-3"), d.resolve("checkpoint-3"));
    String one = job(train, tok, ", output_dir: " + d + ", resume_from_checkpoint: " + d.resolve("checkpoint-3"))
        .replace("world_size: 2", "world_size: 1");
    Exception e = assertThrows(Exception.class, () -> TrainJob.run(JobConfig.parse(one, "d.yaml", List.of()), spark));
    String expected = "resume_from_checkpoint " + d.resolve("checkpoint-3") + " was written by 2 ranks (2"
        + " data_state_<rank>.json files), this run has 1: each file holds one rank's position in its part of a"
        + " stream split by node, which another number of ranks cannot continue from; resume with world_size 2"
        + " or start a new run";
    assertTrue(messages(e).contains(expected), messages(e));
  }

  private static String messages(Throwable e) {
    StringBuilder s = new StringBuilder();
    for (Throwable t = e; t != null; t = t.getCause()) {
      s.append(t.getMessage()).append('\n');
    }
    return s.toString();
  }

  @Test
  void aReaderLoadedWithAStateContinuesMidStreamWithoutReadingTheConsumedRows() throws IOException {
    Path tok = tokenizer();
    // 13 files of 200 rows: a resumed stream opens the saved file and reads past the rows taken of it only.
    List<String> files = new ArrayList<>();
    for (int f = 0; f < 13; f++) {
      StringBuilder s = new StringBuilder();
      for (int i = f * 200; i < (f + 1) * 200; i++) {
        s.append("{\"text\": \"").append(WORDS.get(i % WORDS.size())).append(' ').append(i).append("\"}\n");
      }
      Path p = tmp.resolve(String.format("part-%02d.jsonl", f));
      Files.writeString(p, s);
      files.add(p.toString());
    }
    StreamBlocks.Spec spec = new StreamBlocks.Spec(files, DataFormat.JSON, Map.of(), "text", tok.toString(), 8, 5,
        64, 2000, "train");
    com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
    try (StreamBlocks a = new StreamBlocks(spec, 0, 1); StreamBlocks b = new StreamBlocks(spec, 0, 1)) {
      int k = 0;
      while (a.rowsRead() <= 1065) { // until the blocks of the first group of 1000 rows are handed out
        blocks(a, k, 100, 8);
        k += 100;
      }
      // Two groups of 1000 rows taken from the buffer, which holds 64 more and looks one row ahead.
      assertEquals(2065, a.rowsRead());
      @SuppressWarnings("unchecked")
      Map<String, Object> state = json.readValue(json.writeValueAsString(a.stateDict()), Map.class);
      assertEquals(k, state.get("position"));
      assertTrue(state.get("stream") != null, "the stream is open mid-pass");
      b.loadStateDict(state, "checkpoint-x");
      // The blocks pending in the state first, then those of the next group, read from the resumed stream.
      for (int at = k, more = 2; more > 0; at += 100) {
        List<int[]> rest = blocks(b, at, 100, 8);
        List<int[]> expected = blocks(a, at, 100, 8);
        for (int i = 0; i < 100; i++) {
          assertArrayEquals(expected.get(i), rest.get(i), "block " + (at + i));
        }
        more -= b.rowsRead() > 0 ? 1 : 0;
      }
      assertEquals(0, b.skipped());
      // Only the rows since the oldest one still in the shuffle buffer (of 64), and the rows before that one in
      // its file, were read again: not the 2000 consumed.
      assertTrue(b.rowsReadToResume() > 0 && b.rowsReadToResume() < 500, "read to resume: " + b.rowsReadToResume());
      // Beyond those, the resumed reader reads the rows the uninterrupted one reads after the state (one row of
      // look-ahead apart).
      assertEquals(a.rowsRead() - 2065, b.rowsRead() - b.rowsReadToResume(), 1.0);
    }
    try (StreamBlocks wrong = new StreamBlocks(new StreamBlocks.Spec(files, DataFormat.JSON, Map.of(), "text",
        tok.toString(), 16, 5, 64, 2000, "train"), 0, 1);
        StreamBlocks a = new StreamBlocks(spec, 0, 1)) {
      blocks(a, 0, 3, 8);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> wrong.loadStateDict(a.stateDict(), "checkpoint-x"));
      assertEquals("checkpoint-x (data state of rank 0): key 'block_size': the checkpoint's blocks have 8 tokens,"
          + " data.block_size is 16", e.getMessage());
    }
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
