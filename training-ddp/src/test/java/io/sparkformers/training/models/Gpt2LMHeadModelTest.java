package io.sparkformers.training.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import io.sparkformers.training.models.gpt2.Gpt2LMHeadModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The tiny GPT-2 against PyTorch's numbers (gpt2-tiny/README.md: logits 1e-4, losses 1e-5). */
class Gpt2LMHeadModelTest {
  static Gpt2LMHeadModel model;
  static JsonObject results;
  @TempDir Path tmp;

  @BeforeAll
  static void load() throws Exception {
    model = (Gpt2LMHeadModel) AutoModel.fromPretrained(TestData.gpt2Tiny());
    results = TestData.json("gpt2-tiny/results.json");
  }

  @AfterAll
  static void close() {
    model.close();
  }

  static float[] logitsOf(PreTrainedModel m, NDManager scope, int[] ids) {
    NDArray x = scope.create(ids, new Shape(1, ids.length));
    return m.forward(Map.of("input_ids", x), false).logits().toFloatArray();
  }

  @Test
  void logitsAndLossesMatchPyTorchForEachSequence() throws Exception {
    assertTrue(model.loadReport().isClean(), model.loadReport().toString());
    JsonArray losses = results.getAsJsonObject("loss").getAsJsonArray("unpadded_per_sequence");
    try (NDManager scope = model.manager().newSubManager()) {
      for (int s = 0; s < 3; s++) {
        int[] ids = TestData.i32("gpt2-tiny/inputs/seq" + s + "_input_ids.i32");
        NDArray x = scope.create(ids, new Shape(1, ids.length));
        ModelOutput out = model.forward(Map.of("input_ids", x, "labels", x), false);
        double diff = TestData.maxAbsDiff(TestData.f32("gpt2-tiny/expected/seq" + s + "_logits.f32"),
            out.logits().toFloatArray());
        assertTrue(diff < 1e-4, "seq" + s + " logits differ by " + diff);
        assertEquals(losses.get(s).getAsDouble(), out.loss().getFloat(), 1e-5, "seq" + s + " loss");
      }
    }
  }

  @Test
  void f16WeightsLoadToTheSameValuesPyTorchUsed() throws Exception {
    Path folder = tmp.resolve("f16");
    Files.createDirectories(folder);
    Files.copy(TestData.gpt2Tiny().resolve("config.json"), folder.resolve("config.json"));
    Files.copy(TestData.gpt2Tiny().resolve("model-f16.safetensors"), folder.resolve("model.safetensors"));
    JsonArray losses = results.getAsJsonObject("loss").getAsJsonArray("f16_weights_unpadded_per_sequence");
    try (PreTrainedModel f16 = AutoModel.fromPretrained(folder); NDManager scope = f16.manager().newSubManager()) {
      for (int s = 0; s < 3; s++) {
        int[] ids = TestData.i32("gpt2-tiny/inputs/seq" + s + "_input_ids.i32");
        NDArray x = scope.create(ids, new Shape(1, ids.length));
        ModelOutput out = f16.forward(Map.of("input_ids", x, "labels", x), false);
        double diff = TestData.maxAbsDiff(TestData.f32("gpt2-tiny/expected/seq" + s + "_logits_f16weights.f32"),
            out.logits().toFloatArray());
        assertTrue(diff < 1e-4, "seq" + s + " f16 logits differ by " + diff);
        assertEquals(losses.get(s).getAsDouble(), out.loss().getFloat(), 1e-5);
      }
    }
  }

  @Test
  void leftPaddedBatchMatchesOnRealRowsWithBothPositionConventions() throws Exception {
    int[] ids = TestData.i32("gpt2-tiny/inputs/input_ids_padded.i32");
    int[] mask = TestData.i32("gpt2-tiny/inputs/attention_mask.i32");
    int[] labels = TestData.i32("gpt2-tiny/inputs/labels_padded.i32");
    int[] positions = TestData.i32("gpt2-tiny/inputs/position_ids_from_mask.i32");
    JsonObject loss = results.getAsJsonObject("loss");
    try (NDManager scope = model.manager().newSubManager()) {
      Shape shape = new Shape(3, 12);
      Map<String, NDArray> base = Map.of("input_ids", scope.create(ids, shape),
          "attention_mask", scope.create(mask, shape), "labels", scope.create(labels, shape));
      var withPositions = new java.util.HashMap<>(base);
      withPositions.put("position_ids", scope.create(positions, shape));
      ModelOutput posmask = model.forward(withPositions, false);
      ModelOutput posarange = model.forward(base, false);
      float[] gotMask = posmask.logits().toFloatArray();
      float[] gotArange = posarange.logits().toFloatArray();
      assertTrue(Arrays.stream(boxed(gotMask)).allMatch(Float::isFinite), "padded rows must stay finite");
      float[] expMask = TestData.f32("gpt2-tiny/expected/logits_padded_posmask.f32");
      float[] expArange = TestData.f32("gpt2-tiny/expected/logits_padded_posarange.f32");
      double maxMask = 0;
      double maxArange = 0;
      for (int row = 0; row < 36; row++) {
        if (mask[row] == 0) {
          continue;
        }
        for (int v = 0; v < 1000; v++) {
          int i = row * 1000 + v;
          maxMask = Math.max(maxMask, Math.abs(expMask[i] - gotMask[i]));
          maxArange = Math.max(maxArange, Math.abs(expArange[i] - gotArange[i]));
        }
      }
      assertTrue(maxMask < 1e-4, "posmask " + maxMask);
      assertTrue(maxArange < 1e-4, "posarange " + maxArange);
      assertEquals(loss.get("padded_posmask_hf_labels_batch").getAsDouble(), posmask.loss().getFloat(), 1e-5);
      assertEquals(loss.get("padded_posarange_hf_labels_batch").getAsDouble(), posarange.loss().getFloat(), 1e-5);
    }
  }

  private static Float[] boxed(float[] a) {
    Float[] out = new Float[a.length];
    for (int i = 0; i < a.length; i++) {
      out[i] = a[i];
    }
    return out;
  }

  @Test
  void changingALaterTokenNeverChangesEarlierLogits() throws Exception {
    int[] ids = TestData.i32("gpt2-tiny/inputs/seq0_input_ids.i32");
    int[] changed = ids.clone();
    changed[8] = 5;
    changed[11] = 6;
    try (NDManager scope = model.manager().newSubManager()) {
      float[] a = logitsOf(model, scope, ids);
      float[] b = logitsOf(model, scope, changed);
      assertArrayEquals(Arrays.copyOf(a, 8 * 1000), Arrays.copyOf(b, 8 * 1000));
      assertTrue(a[8 * 1000] != b[8 * 1000]);
    }
  }

  @Test
  void saveThenLoadIsBitExactAndWritesTheReferenceFile() throws Exception {
    Path folder = tmp.resolve("saved");
    model.savePretrained(folder);
    assertArrayEquals(Files.readAllBytes(TestData.gpt2Tiny().resolve("model.safetensors")),
        Files.readAllBytes(folder.resolve("model.safetensors")));
    try (PreTrainedModel again = AutoModel.fromPretrained(folder)) {
      assertEquals(model.config().toJson(), again.config().toJson());
      for (String name : model.namedParameters().keySet()) {
        assertArrayEquals(model.namedParameters().get(name).getArray().toFloatArray(),
            again.namedParameters().get(name).getArray().toFloatArray(), name);
      }
    }
  }

  @Test
  void tooLongInputIsNamed() {
    try (NDManager scope = model.manager().newSubManager()) {
      var e = assertThrows(IllegalArgumentException.class, () -> logitsOf(model, scope, new int[49]));
      assertTrue(e.getMessage().contains("49 tokens") && e.getMessage().contains("n_positions 48"),
          e.getMessage());
    }
  }

  @Test
  void parameterNamesAndOrderAreHuggingFaces() {
    List<String> names = List.copyOf(model.namedParameters().keySet());
    assertEquals(2 + 3 * 12 + 2, names.size());
    assertEquals("transformer.wte.weight", names.get(0));
    assertEquals("transformer.h.0.attn.c_attn.weight", names.get(4));
    assertEquals("transformer.ln_f.bias", names.get(names.size() - 1));
  }
}
