package io.sparkformers.training.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Backward through the GPT-2 forward against PyTorch's gradients (torch-tiny/make_gpt2_grads.py): one
 * sequence, and the left-padded batch with generate's position ids and −100 labels on pads.
 */
class Gpt2GradientTest {

  @Test
  void gradientsMatchPyTorch() throws Exception {
    try (PreTrainedModel model = AutoModel.fromPretrained(TestData.gpt2Tiny())) {
      // training=false: the config's dropout 0.1 would make the pass random; gradients flow either way.
      checkBoth(model, false);
    }
  }

  /**
   * A training forward with labels while gradients are recorded takes the fused LM-head cross-entropy
   * (FusedLinearCrossEntropy): no logits, and the same loss and gradients as PyTorch's separate head and
   * F.cross_entropy — including the tied embedding, which gets gradients from the lookup and from the head.
   */
  @Test
  void fusedHeadAndLossInTrainingMatchPyTorch(@TempDir Path dir) throws Exception {
    Path folder = dir.resolve("gpt2-tiny-no-dropout");
    Files.createDirectories(folder);
    for (String f : new String[] {"model.safetensors", "generation_config.json"}) {
      Files.copy(TestData.gpt2Tiny().resolve(f), folder.resolve(f));
    }
    JsonObject config = JsonParser.parseString(Files.readString(TestData.gpt2Tiny().resolve("config.json")))
        .getAsJsonObject();
    for (String key : new String[] {"attn_pdrop", "embd_pdrop", "resid_pdrop"}) {
      config.addProperty(key, 0.0);
    }
    Files.writeString(folder.resolve("config.json"), config.toString());
    try (PreTrainedModel model = AutoModel.fromPretrained(folder)) {
      checkBoth(model, true);
    }
  }

  @Test
  void labelOutsideTheVocabularyIsNamedInTrainingAndEvaluation() throws Exception {
    try (PreTrainedModel model = AutoModel.fromPretrained(TestData.gpt2Tiny());
        NDManager scope = model.manager().newSubManager()) {
      NDArray ids = scope.create(new int[] {5, 6, 7, 8}, new Shape(1, 4));
      NDArray labels = scope.create(new int[] {5, 6, 1000, 8}, new Shape(1, 4));
      boolean before = JniUtils.isGradMode();
      try {
        for (boolean training : new boolean[] {true, false}) {
          JniUtils.setGradMode(training);
          IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
              () -> model.forward(Map.of("input_ids", ids, "labels", labels), training));
          // Shifted by one inside the loss: the third label is the second position's target.
          assertTrue(e.getMessage().startsWith("label 1000 at position 1 of the batch is outside [0, 1000)"),
              e.getMessage());
        }
      } finally {
        JniUtils.setGradMode(before);
      }
    }
  }

  private static void checkBoth(PreTrainedModel model, boolean training) throws Exception {
    JsonObject ref = TestData.json("torch-tiny/gpt2_grads.json");
    int[] seq0 = TestData.i32("gpt2-tiny/inputs/seq0_input_ids.i32");
    check(model, training, ref.getAsJsonObject("seq0"), scope -> {
      NDArray x = scope.create(seq0, new Shape(1, 12));
      return Map.of("input_ids", x, "labels", x);
    });
    check(model, training, ref.getAsJsonObject("padded_posmask"), scope -> {
      Shape s = new Shape(3, 12);
      try {
        Map<String, NDArray> in = new HashMap<>();
        in.put("input_ids", scope.create(TestData.i32("gpt2-tiny/inputs/input_ids_padded.i32"), s));
        in.put("attention_mask", scope.create(TestData.i32("gpt2-tiny/inputs/attention_mask.i32"), s));
        in.put("labels", scope.create(TestData.i32("gpt2-tiny/inputs/labels_padded.i32"), s));
        in.put("position_ids", scope.create(TestData.i32("gpt2-tiny/inputs/position_ids_from_mask.i32"), s));
        return in;
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    });
  }

  private static void check(PreTrainedModel model, boolean training, JsonObject expected,
      java.util.function.Function<NDManager, Map<String, NDArray>> inputs) {
    boolean before = JniUtils.isGradMode();
    try (NDManager scope = model.manager().newSubManager()) {
      JniUtils.setGradMode(true);
      ModelOutput out = model.forward(inputs.apply(scope), training);
      assertEquals(training, out.logits() == null, "logits are left out exactly when the head is fused");
      assertEquals(expected.get("loss").getAsDouble(), out.loss().getFloat(), 1e-5);
      JniUtils.backward((PtNDArray) out.loss(), (PtNDArray) scope.ones(new Shape()), false, false);
    } finally {
      JniUtils.setGradMode(before);
    }
    JsonObject grads = expected.getAsJsonObject("grads");
    JsonObject sums = expected.getAsJsonObject("grad_sums");
    for (Map.Entry<String, JsonElement> e : grads.entrySet()) {
      Parameter p = model.namedParameters().get(e.getKey());
      float[] g = p.getArray().getGradient().toFloatArray();
      float[] want = TestData.floats(e.getValue());
      double diff = TestData.maxAbsDiff(want, Arrays.copyOf(g, want.length));
      assertTrue(diff < 1e-5, e.getKey() + " gradient differs by " + diff);
      double sum = 0;
      for (float v : g) {
        sum += Math.abs(v);
      }
      double wantSum = sums.get(e.getKey()).getAsDouble();
      assertEquals(wantSum, sum, 1e-4 * wantSum, e.getKey() + " |grad| sum");
    }
    for (Parameter p : model.namedParameters().values()) {
      JniUtils.zeroGrad((PtNDArray) p.getArray());
    }
  }
}
