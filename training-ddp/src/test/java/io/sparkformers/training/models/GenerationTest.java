package io.sparkformers.training.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonObject;
import io.sparkformers.training.models.gpt2.Gpt2LMHeadModel;
import io.sparkformers.training.models.internal.LogitsProcessors;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Generation against PyTorch's greedy tokens, step logits and filtered distributions (gpt2-tiny). */
class GenerationTest {
  static Gpt2LMHeadModel model;
  static JsonObject results;
  static int[] prompt0;
  static int[] prompt1;

  @BeforeAll
  static void load() throws Exception {
    model = (Gpt2LMHeadModel) AutoModel.fromPretrained(TestData.gpt2Tiny());
    results = TestData.json("gpt2-tiny/results.json");
    prompt0 = TestData.i32("gpt2-tiny/inputs/greedy0_prompt.i32");
    prompt1 = TestData.i32("gpt2-tiny/inputs/greedy1_prompt.i32");
  }

  @AfterAll
  static void close() {
    model.close();
  }

  static int[] expectedGreedy(int j) {
    return TestData.ints(results.getAsJsonObject("greedy").getAsJsonArray("prompts").get(j).getAsJsonObject()
        .get("new_tokens"));
  }

  @Test
  void greedyTokensMatchPyTorchWithAndWithoutCacheAndInABatch() {
    GenerationConfig cached = GenerationConfig.greedy(10);
    GenerationConfig full = cached.toBuilder().useCache(false).build();
    for (int j = 0; j < 2; j++) {
      int[] prompt = j == 0 ? prompt0 : prompt1;
      assertArrayEquals(expectedGreedy(j), model.generate(List.of(prompt), cached).get(0), "cached " + j);
      assertArrayEquals(expectedGreedy(j), model.generate(List.of(prompt), full).get(0), "full " + j);
    }
    // Left-padded batch (prompts of 5 and 8 tokens): each row as that prompt alone.
    List<int[]> batch = model.generate(List.of(prompt0, prompt1), cached);
    assertArrayEquals(expectedGreedy(0), batch.get(0));
    assertArrayEquals(expectedGreedy(1), batch.get(1));
    List<int[]> batchFull = model.generate(List.of(prompt0, prompt1), full);
    assertArrayEquals(expectedGreedy(0), batchFull.get(0));
    assertArrayEquals(expectedGreedy(1), batchFull.get(1));
  }

  @Test
  void kvCacheStepLogitsMatchPyTorchAndFullRecompute() throws Exception {
    for (int j = 0; j < 2; j++) {
      int[] prompt = j == 0 ? prompt0 : prompt1;
      int[] tokens = expectedGreedy(j);
      float[] expected = TestData.f32("gpt2-tiny/expected/greedy" + j + "_step_logits.f32");
      try (NDManager scope = model.manager().newSubManager()) {
        Gpt2LMHeadModel.KvCache cache = model.newCache();
        int[] seq = Arrays.copyOf(prompt, prompt.length + tokens.length);
        System.arraycopy(tokens, 0, seq, prompt.length, tokens.length);
        for (int step = 0; step < 10; step++) {
          int from = step == 0 ? 0 : prompt.length + step - 1;
          int to = prompt.length + step;
          int[] newIds = Arrays.copyOfRange(seq, from, to);
          NDArray logits = model.forward(scope.create(newIds, new Shape(1, newIds.length)), null, null, cache, false);
          float[] cachedLast = logits.get(":, -1, :").toFloatArray();
          NDArray all = model.forward(scope.create(Arrays.copyOf(seq, to), new Shape(1, to)), null, null, null, false);
          float[] fullLast = all.get(":, -1, :").toFloatArray();
          float[] want = Arrays.copyOfRange(expected, step * 1000, (step + 1) * 1000);
          assertTrue(TestData.maxAbsDiff(want, cachedLast) < 1e-4, "step " + step + " cached vs torch");
          assertTrue(TestData.maxAbsDiff(fullLast, cachedLast) < 1e-4, "step " + step + " cached vs full");
          assertEquals(tokens[step], LogitsProcessors.argmax(cachedLast));
        }
        cache.close();
      }
    }
  }

  /** The sampling prompt's next-token distribution after the warpers, as transformers computes it. */
  private static float[] distribution(float[] logits, int[] prompt, double penalty) {
    float[] s = logits.clone();
    LogitsProcessors.repetitionPenalty(s, prompt, prompt.length, penalty);
    LogitsProcessors.temperature(s, 0.7);
    LogitsProcessors.topK(s, 50);
    LogitsProcessors.topP(s, 0.9);
    return LogitsProcessors.softmax(s);
  }

  @Test
  void filteredSamplingDistributionsMatchPyTorch() throws Exception {
    int[] prompt = TestData.i32("gpt2-tiny/inputs/sampling_prompt.i32");
    float[] raw;
    try (NDManager scope = model.manager().newSubManager()) {
      raw = model.forward(Map.of("input_ids", scope.create(prompt, new Shape(1, prompt.length))), false)
          .logits().get(":, -1, :").toFloatArray();
    }
    assertTrue(TestData.maxAbsDiff(TestData.f32("gpt2-tiny/expected/sampling_raw_logits.f32"), raw) < 1e-4);
    float[] penalised = raw.clone();
    LogitsProcessors.repetitionPenalty(penalised, prompt, prompt.length, 1.3);
    assertTrue(TestData.maxAbsDiff(TestData.f32("gpt2-tiny/expected/sampling_logits_after_reppen1.3.f32"),
        penalised) < 1e-4);
    JsonObject sampling = results.getAsJsonObject("sampling").getAsJsonObject("results");
    String[] cases = {"plain", "reppen1.3"};
    String[] files = {"sampling_probs_plain.f32", "sampling_probs_reppen1.3.f32"};
    for (int c = 0; c < 2; c++) {
      float[] probs = distribution(raw, prompt, c == 0 ? 1.0 : 1.3);
      float[] expected = TestData.f32("gpt2-tiny/expected/" + files[c]);
      assertTrue(TestData.maxAbsDiff(expected, probs) < 1e-5, cases[c]);
      int[] kept = TestData.ints(sampling.getAsJsonObject(cases[c]).get("kept_token_ids_by_prob"));
      List<Integer> ours = new ArrayList<>();
      for (int i = 0; i < probs.length; i++) {
        if (probs[i] > 0) {
          ours.add(i);
        }
      }
      assertEquals(Arrays.stream(kept).sorted().boxed().toList(), ours, cases[c] + " kept set");
    }
  }

  @Test
  void seededSamplingIsReproducibleAndStaysInTheKeptSet() throws Exception {
    int[] prompt = TestData.i32("gpt2-tiny/inputs/sampling_prompt.i32");
    GenerationConfig sample = GenerationConfig.builder().maxNewTokens(1).doSample(true).temperature(0.7)
        .topK(50).topP(0.9).seed(1).build();
    int[] kept = TestData.ints(results.getAsJsonObject("sampling").getAsJsonObject("results")
        .getAsJsonObject("plain").get("kept_token_ids_by_prob"));
    java.util.Set<Integer> keptSet = new java.util.HashSet<>();
    Arrays.stream(kept).forEach(keptSet::add);
    java.util.Set<Integer> drawn = new java.util.HashSet<>();
    for (int seed = 0; seed < 40; seed++) {
      int token = model.generate(List.of(prompt), sample.toBuilder().seed(seed).build()).get(0)[0];
      assertTrue(keptSet.contains(token), "seed " + seed + " drew " + token);
      drawn.add(token);
    }
    assertTrue(drawn.size() > 5, "40 seeds drew only " + drawn);
    GenerationConfig longer = sample.toBuilder().maxNewTokens(12).seed(42).build();
    int[] a = model.generate(List.of(prompt), longer).get(0);
    assertArrayEquals(a, model.generate(List.of(prompt), longer).get(0));
    assertArrayEquals(a, model.generate(List.of(prompt), longer.toBuilder().useCache(false).build()).get(0));
    assertNotEquals(Arrays.toString(a),
        Arrays.toString(model.generate(List.of(prompt), longer.toBuilder().seed(43).build()).get(0)));
  }

  @Test
  void eosStopsARowAndTheOthersContinue() {
    int[] greedy0 = expectedGreedy(0);
    // Token 26 is prompt 0's third new token and never one of prompt 1's.
    GenerationConfig stopAt26 = GenerationConfig.builder().maxNewTokens(10).eosTokenIds(List.of(26)).padTokenId(0)
        .build();
    List<int[]> out = model.generate(List.of(prompt0, prompt1), stopAt26);
    assertArrayEquals(Arrays.copyOf(greedy0, 3), out.get(0));
    assertArrayEquals(expectedGreedy(1), out.get(1));
    // Alone, it stops as well; max_new_tokens 0 generates nothing.
    assertArrayEquals(Arrays.copyOf(greedy0, 3), model.generate(List.of(prompt0), stopAt26).get(0));
    assertEquals(0, model.generate(List.of(prompt0), GenerationConfig.greedy(0)).get(0).length);
  }

  @Test
  void streamingDeliversTokensAsTheyComeByCallbackAndIterator() throws Exception {
    List<String> events = new ArrayList<>();
    TokenStreamer callback = new TokenStreamer() {
      @Override
      public void put(int row, int tokenId) {
        events.add(row + ":" + tokenId);
      }

      @Override
      public void end() {
        events.add("end");
      }
    };
    int[] out = model.generate(List.of(prompt0), GenerationConfig.greedy(4), callback).get(0);
    int[] g = expectedGreedy(0);
    assertEquals(List.of("0:" + g[0], "0:" + g[1], "0:" + g[2], "0:" + g[3], "end"), events);
    assertArrayEquals(Arrays.copyOf(g, 4), out);

    TokenIteratorStreamer iterator = new TokenIteratorStreamer(60_000);
    CompletableFuture<List<int[]>> running = CompletableFuture.supplyAsync(
        () -> model.generate(List.of(prompt0), GenerationConfig.greedy(10), iterator));
    List<Integer> streamed = new ArrayList<>();
    while (iterator.hasNext()) {
      streamed.add(iterator.next().tokenId());
    }
    assertArrayEquals(g, streamed.stream().mapToInt(Integer::intValue).toArray());
    assertArrayEquals(g, running.get().get(0));
  }

  @Test
  void generationConfigJsonGivesTheDefaults(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp)
      throws Exception {
    GenerationConfig plain = GenerationConfig.fromPretrained(TestData.gpt2Tiny()).build();
    assertEquals(List.of(999), plain.eosTokenIds());
    assertEquals(20, plain.maxNewTokens());
    assertEquals(50, plain.topK());
    java.nio.file.Files.writeString(tmp.resolve("generation_config.json"), "{\"do_sample\": true, \"top_k\": 5,"
        + " \"temperature\": 0.5, \"max_new_tokens\": 7, \"eos_token_id\": [1, 2], \"pad_token_id\": 0}");
    GenerationConfig g = GenerationConfig.fromPretrained(tmp).build();
    assertTrue(g.doSample());
    assertEquals(5, g.topK());
    assertEquals(0.5, g.temperature());
    assertEquals(7, g.maxNewTokens());
    assertEquals(List.of(1, 2), g.eosTokenIds());
    assertEquals(0, g.padTokenId());
    java.nio.file.Files.writeString(tmp.resolve("generation_config.json"), "{\"top_p\": 2.0}");
    var e = assertThrows(IllegalArgumentException.class, () -> GenerationConfig.fromPretrained(tmp));
    assertTrue(e.getMessage().contains("generation_config.json: top_p must be in (0, 1]"), e.getMessage());
    java.nio.file.Files.writeString(tmp.resolve("generation_config.json"), "{\"top_k\": \"many\"}");
    e = assertThrows(IllegalArgumentException.class, () -> GenerationConfig.fromPretrained(tmp));
    assertTrue(e.getMessage().contains("key 'top_k' must be an integer"), e.getMessage());
  }

  @Test
  void badPromptsAreNamed() {
    GenerationConfig g = GenerationConfig.greedy(5);
    var e = assertThrows(IllegalArgumentException.class, () -> model.generate(List.of(prompt0, new int[50]), g));
    assertTrue(e.getMessage().contains("prompt 1 has 50 tokens") && e.getMessage().contains("n_positions 48"),
        e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> model.generate(List.of(new int[45]), g));
    assertTrue(e.getMessage().contains("max_new_tokens 5 exceeds"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> model.generate(List.of(new int[] {1, 1000}), g));
    assertTrue(e.getMessage().contains("prompt 0, token 1: id 1000 is outside the vocabulary"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> model.generate(List.of(new int[0]), g));
    assertTrue(e.getMessage().contains("prompt 0 is empty"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> GenerationConfig.builder().topP(1.5).build());
    assertTrue(e.getMessage().contains("top_p"), e.getMessage());
  }
}
