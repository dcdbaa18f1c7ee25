package io.sparkformers.training.ddp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import io.sparkformers.training.internal.Autograd;
import io.sparkformers.training.internal.BackwardSegments;
import io.sparkformers.training.internal.TorchRandom;
import io.sparkformers.training.internal.TorchScriptKernels;
import io.sparkformers.training.models.AutoConfig;
import io.sparkformers.training.models.AutoModel;
import io.sparkformers.training.models.PreTrainedModel;
import io.sparkformers.training.models.internal.Ops;
import io.sparkformers.training.peft.LoraConfig;
import io.sparkformers.training.peft.PeftModel;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The segmented backward of the causal LMs (one segment per decoder layer, one for the head, the embeddings last)
 * gives bit-identical gradients to one full backward, and each segment's report names exactly the parameters whose
 * gradients no later segment changes: their values at the report equal their final values, bit for bit.
 */
class SegmentedBackwardTest {
  static final String GPT2 = "{\"model_type\": \"gpt2\", \"vocab_size\": 64, \"n_positions\": 16, \"n_embd\": 16,"
      + " \"n_layer\": 3, \"n_head\": 2, \"resid_pdrop\": 0.1, \"embd_pdrop\": 0.1, \"attn_pdrop\": 0.1,"
      + " \"tie_word_embeddings\": %s}";
  static final String LLAMA = "{\"model_type\": \"llama\", \"vocab_size\": 64, \"hidden_size\": 16,"
      + " \"intermediate_size\": 40, \"num_hidden_layers\": 3, \"num_attention_heads\": 4,"
      + " \"num_key_value_heads\": 2, \"max_position_embeddings\": 16, \"tie_word_embeddings\": %s}";

  /** Batch of 3 rows × 12 tokens with a left-padded row, labels = inputs (-100 on the pads). */
  static Map<String, NDArray> batch(NDManager m) {
    long[] ids = new long[36];
    long[] mask = new long[36];
    long[] labels = new long[36];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = (i * 13 + i / 12 * 5) % 64;
      boolean pad = i / 12 == 2 && i % 12 < 3;
      mask[i] = pad ? 0 : 1;
      labels[i] = pad ? -100 : ids[i];
    }
    Map<String, NDArray> in = new LinkedHashMap<>();
    in.put("input_ids", m.create(ids, new ai.djl.ndarray.types.Shape(3, 12)));
    in.put("attention_mask", m.create(mask, new ai.djl.ndarray.types.Shape(3, 12)));
    in.put("labels", m.create(labels, new ai.djl.ndarray.types.Shape(3, 12)));
    return in;
  }

  /** What one backward left: every trainable gradient, and the reports (gradient values when reported). */
  record Run(Map<String, float[]> grads, List<List<String>> reports, Map<String, float[]> atReport) {}

  static Run step(PreTrainedModel model, boolean segmented, int microSteps) {
    return step(model, segmented, microSteps, 1);
  }

  /** As above, the loss being the sum of {@code passes} forward passes' losses (dropout differs between them). */
  static Run step(PreTrainedModel model, boolean segmented, int microSteps, int passes) {
    Map<String, Parameter> trainable = model.trainableParameters();
    Map<NDArray, String> names = new IdentityHashMap<>();
    trainable.forEach((k, p) -> names.put(p.getArray(), k));
    trainable.values().forEach(p -> Autograd.zeroGrad(p.getArray()));
    List<List<String>> reports = new ArrayList<>();
    Map<String, float[]> atReport = new LinkedHashMap<>();
    boolean was = Autograd.isEnabled();
    try (NDManager m = model.manager().newSubManager()) {
      TorchScriptKernels kernels = BackwardSegments.loadKernels(m);
      for (int micro = 0; micro < microSteps; micro++) {
        boolean last = micro == microSteps - 1;
        TorchRandom.manualSeed(7 + micro); // the same dropout masks in both runs
        try (NDManager batch = m.newSubManager();
            BackwardSegments s = segmented && last ? BackwardSegments.open(arrays -> {
              List<String> r = new ArrayList<>();
              if (arrays == null) {
                r.add("*");
              } else {
                for (NDArray a : arrays) {
                  String name = names.get(a);
                  r.add(name);
                  atReport.put(name, a.getGradient().toFloatArray());
                }
              }
              reports.add(r);
            }, kernels) : null) {
          Autograd.enable();
          NDArray loss = model.forward(batch(batch), true).loss();
          for (int p = 1; p < passes; p++) {
            loss = loss.add(model.forward(batch(batch), true).loss());
          }
          Autograd.backward(loss);
        } finally {
          Autograd.setEnabled(was);
        }
      }
    }
    Map<String, float[]> grads = new LinkedHashMap<>();
    trainable.forEach((k, p) -> grads.put(k, p.getArray().getGradient().toFloatArray()));
    return new Run(grads, reports, atReport);
  }

  static void assertSegmentedEqualsFull(PreTrainedModel model, int microSteps, List<List<String>> expectedReports) {
    Run full = step(model, false, microSteps);
    Run seg = step(model, true, microSteps);
    assertEquals(full.grads().keySet(), seg.grads().keySet());
    for (String k : full.grads().keySet()) {
      assertArrayEquals(full.grads().get(k), seg.grads().get(k), 0f, "gradient of " + k);
      assertTrue(seg.grads().get(k).length > 0);
    }
    // Something was learned: a gradient that is all zeros would make the comparison empty.
    assertTrue(full.grads().values().stream().anyMatch(g -> {
      for (float v : g) {
        if (v != 0) {
          return true;
        }
      }
      return false;
    }));
    assertEquals(expectedReports, seg.reports());
    seg.atReport().forEach((k, v) -> assertArrayEquals(seg.grads().get(k), v, 0f, k + " changed after its report"));
    assertTrue(full.reports().isEmpty(), "no recorder, no report");
  }

  static List<String> names(PreTrainedModel model, String prefix) {
    return model.trainableParameters().keySet().stream().filter(k -> k.startsWith(prefix)).toList();
  }

  static List<String> concat(List<String> a, List<String> b) {
    List<String> out = new ArrayList<>(a);
    out.addAll(b);
    return out;
  }

  @Test
  void gpt2UntiedWithDropoutAndPaddingOverTwoMicroSteps() {
    try (PreTrainedModel m = AutoModel.fromConfig(AutoConfig.fromJson(String.format(GPT2, "false"), "test"))) {
      assertSegmentedEqualsFull(m, 2, List.of(concat(names(m, "transformer.ln_f."), names(m, "lm_head.")),
          names(m, "transformer.h.2."), names(m, "transformer.h.1."), names(m, "transformer.h.0."), List.of("*")));
    }
  }

  @Test
  void gpt2TiedHeadLeavesTheEmbeddingToTheEndAlsoUnderAccumulation() {
    try (PreTrainedModel m = AutoModel.fromConfig(AutoConfig.fromJson(String.format(GPT2, "true"), "test"))) {
      // Two micro-steps: the embedding's head and lookup gradients must be summed before joining the first
      // micro-step's (one rounding order), as one full backward sums them.
      assertSegmentedEqualsFull(m, 2, List.of(names(m, "transformer.ln_f."), names(m, "transformer.h.2."),
          names(m, "transformer.h.1."), names(m, "transformer.h.0."), List.of("*")));
    }
  }

  @Test
  void llamaTiedAndUntiedUnderAccumulation() {
    for (String tied : List.of("true", "false")) {
      try (PreTrainedModel m = AutoModel.fromConfig(AutoConfig.fromJson(String.format(LLAMA, tied), "test"))) {
        List<String> head = tied.equals("true") ? names(m, "model.norm.")
            : concat(names(m, "model.norm."), names(m, "lm_head."));
        assertSegmentedEqualsFull(m, 2, List.of(head, names(m, "model.layers.2."), names(m, "model.layers.1."),
            names(m, "model.layers.0."), List.of("*")));
      }
    }
  }

  @Test
  void loraOnAFrozenLlamaCutsNoBoundaryBelowTheFirstAdapter() {
    PreTrainedModel base = AutoModel.fromConfig(AutoConfig.fromJson(String.format(LLAMA, "true"), "test"));
    try (PreTrainedModel m = PeftModel.inject(base,
        LoraConfig.builder().r(4).loraAlpha(8).targetModules("q_proj", "v_proj").build())) {
      // Only adapters train; the frozen norm reports nothing, and the embedding output records no gradient.
      assertSegmentedEqualsFull(m, 1, List.of(List.of(), names(m, "base_model.model.model.layers.2."),
          names(m, "base_model.model.model.layers.1."), names(m, "base_model.model.model.layers.0."),
          List.of("*")));
      assertTrue(names(m, "base_model.model.model.layers.0.").size() == 4, names(m, "").toString());
    }
  }

  @Test
  void aLossOverTwoForwardPassesReportsOnlyAtTheEnd() {
    try (PreTrainedModel m = AutoModel.fromConfig(AutoConfig.fromJson(String.format(GPT2, "false"), "test"))) {
      Run full = step(m, false, 1, 2);
      Run seg = step(m, true, 1, 2);
      for (String k : full.grads().keySet()) {
        assertArrayEquals(full.grads().get(k), seg.grads().get(k), 0f, "gradient of " + k);
      }
      // Layer 2 of the first pass runs after layer 0 of the second: no layer is final before the end.
      assertEquals(List.of(List.of("*")), seg.reports());
    }
  }

  @Test
  void aBoundaryGradientIsFreedOnceItsSegmentRan() {
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      NDArray w = m.create(new float[] {1, 2, 3});
      w.setRequiresGradient(true);
      TorchScriptKernels k = BackwardSegments.loadKernels(m);
      List<List<NDArray>> reports = new ArrayList<>();
      NDArray leaf;
      boolean was = Autograd.isEnabled();
      try (BackwardSegments s = BackwardSegments.open(reports::add, k)) {
        Autograd.enable();
        leaf = BackwardSegments.cut(Ops.mul(w, 2f), List::of); // x = 2w, a boundary with nothing above it
        Autograd.backward(leaf.mul(leaf).sum()); // sum(4w²): d/dw = 8w
        // Every gradient was declared final (handed to the all-reduce): another backward would race with it.
        NDArray again = Ops.mul(w, 3f).sum();
        org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, () -> Autograd.backward(again));
      } finally {
        Autograd.setEnabled(was);
      }
      assertArrayEquals(new float[] {8, 16, 24}, w.getGradient().toFloatArray(), 0f);
      // The boundary's gradient (a hidden state's size in a model) holds no memory once used.
      assertEquals(0, leaf.getGradient().size());
      assertEquals(2, reports.size());
      assertTrue(reports.get(0).isEmpty() && reports.get(1) == null, reports.toString());
    }
  }

  @Test
  void withoutARecorderTheCutIsTheTensorItself() {
    try (PreTrainedModel m = AutoModel.fromConfig(AutoConfig.fromJson(String.format(LLAMA, "true"), "test"));
        NDManager nd = m.manager().newSubManager()) {
      NDArray x = nd.ones(new ai.djl.ndarray.types.Shape(2));
      assertTrue(x == BackwardSegments.cut(x, List::of));
      TorchScriptKernels k = BackwardSegments.loadKernels(nd);
      boolean was = Autograd.isEnabled();
      try (BackwardSegments s = BackwardSegments.open(a -> { }, k)) {
        // Open, but gradients are not recorded (evaluation): still no cut.
        Autograd.setEnabled(false);
        assertTrue(x == BackwardSegments.cut(x, List::of));
      } finally {
        Autograd.setEnabled(was);
      }
    }
  }
}
