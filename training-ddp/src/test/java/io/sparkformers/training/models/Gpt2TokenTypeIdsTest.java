package io.sparkformers.training.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import io.sparkformers.training.models.gpt2.Gpt2LMHeadModel;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * GPT-2 with token_type_ids, as transformers' GPT2Model: hidden = wte(ids) + wpe(pos) + wte(token_type_ids).
 * Checked against the definition itself: the same model whose position table has wte(type at t) added to
 * row t gives the same logits, loss and tokens without token types (within float rounding of the changed
 * addition order).
 */
class Gpt2TokenTypeIdsTest {
  static Gpt2LMHeadModel model;
  static final int[] PROMPT = {165, 26, 221, 213, 605, 110};
  static final int[] TYPES = {7, 7, 7, 42, 42, 3};

  @BeforeAll
  static void load() throws Exception {
    model = (Gpt2LMHeadModel) AutoModel.fromPretrained(TestData.gpt2Tiny());
  }

  @AfterAll
  static void close() {
    model.close();
  }

  /** gpt2-tiny with wpe[t] += wte[type(t)], where positions past the prompt take the prompt's last type. */
  static Gpt2LMHeadModel withTypesInPositions(int[] types) throws Exception {
    Gpt2LMHeadModel shifted = (Gpt2LMHeadModel) AutoModel.fromPretrained(TestData.gpt2Tiny());
    boolean grad = JniUtils.isGradMode();
    JniUtils.setGradMode(false);
    try (NDManager m = shifted.manager().newSubManager()) {
      NDArray wte = shifted.namedParameters().get("transformer.wte.weight").getArray();
      NDArray wpe = shifted.namedParameters().get("transformer.wpe.weight").getArray();
      int positions = (int) wpe.getShape().get(0);
      int[] perPosition = new int[positions];
      for (int t = 0; t < positions; t++) {
        perPosition[t] = types[Math.min(t, types.length - 1)];
      }
      NDArray rows = io.sparkformers.training.models.internal.Ops.embedding(
          m.create(perPosition).toType(ai.djl.ndarray.types.DataType.INT64, false), wte);
      wpe.addi(rows);
    } finally {
      JniUtils.setGradMode(grad);
    }
    return shifted;
  }

  @Test
  void forwardAndLossAddTheTypesTokenEmbeddings() throws Exception {
    try (Gpt2LMHeadModel shifted = withTypesInPositions(TYPES); NDManager m = model.manager().newSubManager()) {
      NDArray ids = m.create(PROMPT, new Shape(1, PROMPT.length));
      NDArray types = m.create(TYPES, new Shape(1, TYPES.length));
      ModelOutput typed = model.forward(Map.of("input_ids", ids, "token_type_ids", types, "labels", ids), false);
      ModelOutput plain = model.forward(Map.of("input_ids", ids, "labels", ids), false);
      ModelOutput reference = shifted.forward(Map.of("input_ids", ids, "labels", ids), false);
      float[] a = typed.logits().toFloatArray();
      float[] b = reference.logits().toFloatArray();
      assertEquals(PROMPT.length * 1000, a.length);
      assertTrue(TestData.maxAbsDiff(b, a) < 1e-5, "max |Δ| " + TestData.maxAbsDiff(b, a));
      assertEquals(reference.loss().getFloat(), typed.loss().getFloat(), 1e-5);
      // The types change the result (they are not ignored, as they were before).
      assertTrue(TestData.maxAbsDiff(plain.logits().toFloatArray(), a) > 1e-2);
      assertFalse(Math.abs(plain.loss().getFloat() - typed.loss().getFloat()) < 1e-4);

      NDArray wrong = m.create(new int[] {1, 2}, new Shape(1, 2));
      assertEquals("gpt2 'token_type_ids' must have the shape of 'input_ids' (1, 6), got (1, 2)",
          assertThrows(IllegalArgumentException.class,
              () -> model.forward(Map.of("input_ids", ids, "token_type_ids", wrong), false)).getMessage());
    }
  }

  @Test
  void generationRepeatsTheLastTypeForNewTokensAndPadsWithTypeZero() throws Exception {
    GenerationConfig cached = GenerationConfig.greedy(12);
    try (Gpt2LMHeadModel shifted = withTypesInPositions(TYPES)) {
      int[] expected = shifted.generate(List.of(PROMPT), cached).get(0);
      assertEquals(12, expected.length);
      int[] plain = model.generate(List.of(PROMPT), cached).get(0);
      assertFalse(java.util.Arrays.equals(expected, plain), "token types must change these tokens");
      assertArrayEquals(expected, model.generate(List.of(PROMPT), List.of(TYPES), cached, null).get(0));
      assertArrayEquals(expected, model.generate(List.of(PROMPT), List.of(TYPES),
          cached.toBuilder().useCache(false).build(), null).get(0));
      // In a left-padded batch with a longer prompt, the row continues as it does alone.
      int[] longer = {5, 6, 7, 8, 9, 10, 11, 12, 13};
      int[] longerTypes = {1, 1, 1, 1, 2, 2, 2, 2, 2};
      List<int[]> batch = model.generate(List.of(PROMPT, longer), List.of(TYPES, longerTypes), cached, null);
      assertArrayEquals(expected, batch.get(0));
      assertArrayEquals(model.generate(List.of(longer), List.of(longerTypes), cached, null).get(0), batch.get(1));
    }
    assertEquals("token_type_ids of prompt 0: expected 6 ids (one per prompt token), got 2",
        assertThrows(IllegalArgumentException.class, () -> model.generate(List.of(PROMPT), List.of(new int[] {1, 2}),
            cached, null)).getMessage());
    assertEquals("token_type_ids of prompt 0, position 1: 1000 is outside the vocabulary [0, 1000) that GPT-2"
        + " embeds them with", assertThrows(IllegalArgumentException.class, () -> model.generate(List.of(PROMPT),
            List.of(new int[] {1, 1000, 1, 1, 1, 1}), cached, null)).getMessage());
  }
}
