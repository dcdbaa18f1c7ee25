package io.sparkformers.training.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
import org.junit.jupiter.api.Test;

/**
 * Backward through the GPT-2 forward against PyTorch's gradients (torch-tiny/make_gpt2_grads.py): one
 * sequence, and the left-padded batch with generate's position ids and −100 labels on pads.
 */
class Gpt2GradientTest {

  @Test
  void gradientsMatchPyTorch() throws Exception {
    JsonObject ref = TestData.json("torch-tiny/gpt2_grads.json");
    try (PreTrainedModel model = AutoModel.fromPretrained(TestData.gpt2Tiny())) {
      int[] seq0 = TestData.i32("gpt2-tiny/inputs/seq0_input_ids.i32");
      check(model, ref.getAsJsonObject("seq0"), scope -> {
        NDArray x = scope.create(seq0, new Shape(1, 12));
        return Map.of("input_ids", x, "labels", x);
      });
      check(model, ref.getAsJsonObject("padded_posmask"), scope -> {
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
  }

  private static void check(PreTrainedModel model, JsonObject expected,
      java.util.function.Function<NDManager, Map<String, NDArray>> inputs) {
    boolean before = JniUtils.isGradMode();
    try (NDManager scope = model.manager().newSubManager()) {
      JniUtils.setGradMode(true);
      // training=false: the config's dropout 0.1 would make the pass random; gradients flow either way.
      ModelOutput out = model.forward(inputs.apply(scope), false);
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
