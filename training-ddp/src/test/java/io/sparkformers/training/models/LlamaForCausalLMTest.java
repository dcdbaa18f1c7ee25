package io.sparkformers.training.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.sparkformers.training.internal.Autograd;
import io.sparkformers.training.models.llama.LlamaConfig;
import io.sparkformers.training.models.llama.LlamaForCausalLM;
import io.sparkformers.training.models.llama.RopeParameters;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Grouped-query attention, the training loss path, the sliding-window refusal and tying of a Llama model. */
class LlamaForCausalLMTest {
  @TempDir Path tmp;

  private static final int[] IDS = {5, 17, 3, 60, 22, 9, 41, 2};

  private static LlamaConfig.Builder small(int kvHeads) {
    return LlamaConfig.builder().vocabSize(64).hiddenSize(32).intermediateSize(48).numHiddenLayers(2)
        .numAttentionHeads(4).numKeyValueHeads(kvHeads).maxPositionEmbeddings(64).initializerRange(0.2)
        .rope(RopeParameters.linear(10000.0, 2.0));
  }

  private static float[] logits(PreTrainedModel model, int[] ids) {
    try (NDManager scope = model.manager().newSubManager()) {
      NDArray x = scope.create(ids, new Shape(1, ids.length));
      return model.forward(Map.of("input_ids", x), false).logits().toFloatArray();
    }
  }

  /**
   * Grouped-query attention is multi-head attention whose key/value heads are repeated (transformers'
   * repeat_kv): a model with 2 key/value heads equals the one with 4 whose k/v projections repeat each head.
   */
  @Test
  void groupedQueryAttentionEqualsRepeatedKeyValueHeads() throws Exception {
    Engine.getInstance().setRandomSeed(7);
    Path grouped = tmp.resolve("grouped");
    Path full = tmp.resolve("full");
    try (PreTrainedModel model = AutoModel.fromConfig(small(2).build())) {
      model.savePretrained(grouped);
      small(4).build().save(full);
      Map<String, NDArray> tensors = new LinkedHashMap<>();
      try (NDManager m = model.manager().newSubManager()) {
        model.namedParameters().forEach((name, p) -> {
          NDArray a = p.getArray();
          if (name.endsWith("k_proj.weight") || name.endsWith("v_proj.weight")) {
            // [2 heads · 8, 32] → heads 0,0,1,1: query heads 2j and 2j+1 share kv head j.
            NDArray perHead = a.reshape(2, 1, 8, 32);
            a = perHead.concat(perHead, 1).reshape(32, 32);
          }
          tensors.put(name, a.duplicate());
        });
        SafeTensorsWriter.write(full.resolve("model.safetensors"), tensors, Map.of("format", "pt"));
      }
      try (PreTrainedModel repeated = AutoModel.fromPretrained(full)) {
        double diff = TestData.maxAbsDiff(logits(model, IDS), logits(repeated, IDS));
        assertTrue(diff < 1e-5, "grouped vs repeated heads differ by " + diff);
      }
    }
  }

  @Test
  void trainingStepTakesTheFusedLossWithTheSameValueAndGradients() {
    Engine.getInstance().setRandomSeed(11);
    try (PreTrainedModel model = AutoModel.fromConfig(small(1).tieWordEmbeddings(true).build());
        NDManager scope = model.manager().newSubManager()) {
      assertTrue(model.namedParameters().keySet().stream().noneMatch(n -> n.startsWith("lm_head")));
      NDArray x = scope.create(IDS, new Shape(2, 4));
      float expected = model.forward(Map.of("input_ids", x, "labels", x), false).loss().getFloat();
      boolean before = Autograd.isEnabled();
      Autograd.setEnabled(true);
      try {
        ModelOutput out = model.forward(Map.of("input_ids", x, "labels", x), true);
        assertNull(out.logits());
        assertEquals(expected, out.loss().getFloat(), 1e-5);
        Autograd.backward(out.loss());
        NDArray grad = model.namedParameters().get("model.embed_tokens.weight").getArray().getGradient();
        assertTrue(grad.abs().sum().getFloat() > 0);
      } finally {
        Autograd.setEnabled(before);
        model.namedParameters().values().forEach(p -> Autograd.zeroGrad(p.getArray()));
      }
    }
  }

  /** A forward pass's tensors belong to the caller's scope: nothing piles up on the model's manager. */
  @Test
  void forwardLeavesNothingOnTheModelsManager() {
    Engine.getInstance().setRandomSeed(13);
    try (PreTrainedModel model = AutoModel.fromConfig(small(2).build());
        NDManager scope = model.manager().newSubManager()) {
      NDArray x = scope.create(IDS, new Shape(1, IDS.length));
      ModelOutput out = model.forward(Map.of("input_ids", x, "labels", x), false);
      org.junit.jupiter.api.Assertions.assertSame(scope, out.logits().getManager());
      org.junit.jupiter.api.Assertions.assertSame(scope, out.loss().getManager());
    }
  }

  /** Seeded sampling through the shared logits processors: the same tokens with and without the cache. */
  @Test
  void samplingWithTheLogitsProcessorsIsTheSameWithAndWithoutTheCache() {
    Engine.getInstance().setRandomSeed(5);
    try (CausalLM model = (CausalLM) AutoModel.fromConfig(small(2).build())) {
      GenerationConfig sampling = GenerationConfig.builder().maxNewTokens(10).doSample(true).temperature(0.8)
          .topK(20).topP(0.9).repetitionPenalty(1.3).seed(42).eosTokenIds(List.of()).build();
      List<int[]> prompts = List.of(new int[] {5, 17, 3}, new int[] {60, 22, 9, 41, 2});
      List<int[]> cached = model.generate(prompts, sampling);
      List<int[]> full = model.generate(prompts, sampling.toBuilder().useCache(false).build());
      for (int r = 0; r < prompts.size(); r++) {
        assertEquals(10, cached.get(r).length);
        org.junit.jupiter.api.Assertions.assertArrayEquals(full.get(r), cached.get(r), "row " + r);
      }
    }
  }

  @Test
  void aSlidingWindowShorterThanTheSequenceIsRefused() throws Exception {
    LlamaConfig mistral = LlamaConfig.builder(LlamaConfig.Variant.MISTRAL).vocabSize(64).hiddenSize(32)
        .intermediateSize(48).numHiddenLayers(1).numAttentionHeads(4).numKeyValueHeads(2).maxPositionEmbeddings(64)
        .slidingWindow(6).build();
    try (CausalLM model = (CausalLM) AutoModel.fromConfig(mistral)) {
      assertEquals("mistral", model.modelType());
      assertEquals(6 * 64, logits(model, new int[] {1, 2, 3, 4, 5, 6}).length);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> logits(model, IDS));
      assertEquals("sequence of 8 positions is longer than the attention window (config key 'sliding_window' 6):"
          + " sliding-window attention is not implemented, and it would change the result at this length",
          e.getMessage());
      // Generation reaches the same check once prompt and new tokens pass the window.
      assertThrows(IllegalArgumentException.class,
          () -> model.generate(List.of(new int[] {1, 2, 3}), GenerationConfig.greedy(5)));
    }
  }

  @Test
  void savedModelsLoadBackAsTheSameArchitecture() throws Exception {
    Engine.getInstance().setRandomSeed(3);
    LlamaConfig qwen2 = LlamaConfig.builder(LlamaConfig.Variant.QWEN2).vocabSize(64).hiddenSize(32)
        .intermediateSize(48).numHiddenLayers(1).numAttentionHeads(4).numKeyValueHeads(2).maxPositionEmbeddings(64)
        .build();
    try (PreTrainedModel model = AutoModel.fromConfig(qwen2)) {
      assertTrue(model.namedParameters().containsKey("model.layers.0.self_attn.q_proj.bias"));
      assertTrue(!model.namedParameters().containsKey("model.layers.0.self_attn.o_proj.bias"));
      Path folder = tmp.resolve("qwen2");
      model.savePretrained(folder);
      assertTrue(Files.readString(folder.resolve("config.json")).contains("\"Qwen2ForCausalLM\""));
      try (PreTrainedModel back = AutoModel.fromPretrained(folder)) {
        assertTrue(back instanceof LlamaForCausalLM);
        assertEquals(0.0, TestData.maxAbsDiff(logits(model, IDS), logits(back, IDS)));
      }
    }
  }
}
