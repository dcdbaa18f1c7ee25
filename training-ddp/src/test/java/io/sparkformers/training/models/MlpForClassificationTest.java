package io.sparkformers.training.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import com.google.gson.JsonObject;
import io.sparkformers.training.models.mlp.MlpConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MlpForClassificationTest {
  @TempDir Path tmp;

  @Test
  void logitsLossAndGradientsMatchPyTorch() throws Exception {
    JsonObject ref = TestData.json("torch-tiny/reference.json").getAsJsonObject("mlp");
    try (PreTrainedModel model = AutoModel.fromPretrained(TestData.resource("torch-tiny/mlp"));
        NDManager batch = model.manager().newSubManager()) {
      assertEquals("mlp", model.modelType());
      assertEquals(List.of("0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"),
          List.copyOf(model.namedParameters().keySet()));
      NDArray x = batch.create(TestData.floats(ref.get("features")), new Shape(4, 6));
      NDArray y = batch.create(new long[] {0, 2, 1, 2});
      boolean before = JniUtils.isGradMode();
      JniUtils.setGradMode(true);
      try {
        ModelOutput out = model.forward(Map.of("features", x, "labels", y), true);
        assertTrue(TestData.maxAbsDiff(TestData.floats(ref.get("logits")), out.logits().toFloatArray()) < 1e-6);
        assertEquals(ref.get("loss").getAsFloat(), out.loss().getFloat(), 1e-6);
        JniUtils.backward((PtNDArray) out.loss(), (PtNDArray) batch.ones(new Shape()), false, false);
      } finally {
        JniUtils.setGradMode(before);
      }
      JsonObject grads = ref.getAsJsonObject("grads");
      for (Map.Entry<String, Parameter> p : model.namedParameters().entrySet()) {
        float[] g = p.getValue().getArray().getGradient().toFloatArray();
        assertTrue(TestData.maxAbsDiff(TestData.floats(grads.get(p.getKey())), g) < 1e-6, p.getKey());
      }
    }
  }

  @Test
  void saveThenLoadIsBitExactAndF16RoundsOnce() throws Exception {
    Engine.getEngine("PyTorch").setRandomSeed(5);
    MlpConfig config = MlpConfig.builder().inputSize(7).hiddenSizes(List.of(9)).numLabels(4).hiddenAct("gelu")
        .build();
    Path folder = tmp.resolve("mlp");
    Path folder16 = tmp.resolve("mlp16");
    try (PreTrainedModel model = AutoModel.fromConfig(config)) {
      // torch.nn.Linear's init: U(±1/√fan_in) for weight and bias.
      float[] w = model.namedParameters().get("0.weight").getArray().toFloatArray();
      float bound = (float) (1 / Math.sqrt(7));
      for (float v : w) {
        assertTrue(Math.abs(v) <= bound, "init " + v);
      }
      assertEquals(new Shape(4, 9), model.namedParameters().get("2.weight").getArray().getShape());
      model.savePretrained(folder);
      model.savePretrained(folder16, ai.djl.ndarray.types.DataType.FLOAT16);
      try (PreTrainedModel loaded = AutoModel.fromPretrained(folder);
          PreTrainedModel loaded16 = AutoModel.fromPretrained(folder16);
          PreTrainedModel again16 = AutoModel.fromPretrained(folder16)) {
        JsonObject reloaded = loaded.config().toJson();
        assertEquals("float32", reloaded.remove("torch_dtype").getAsString());
        assertEquals(config.toJson(), reloaded);
        for (String name : model.namedParameters().keySet()) {
          float[] original = model.namedParameters().get(name).getArray().toFloatArray();
          assertArrayEquals(original, loaded.namedParameters().get(name).getArray().toFloatArray(), name);
          float[] half = loaded16.namedParameters().get(name).getArray().toFloatArray();
          assertTrue(TestData.maxAbsDiff(original, half) < 1e-3, name);
          assertArrayEquals(half, again16.namedParameters().get(name).getArray().toFloatArray(), name);
        }
      }
    }
    String saved = Files.readString(folder.resolve("config.json"));
    assertTrue(saved.contains("\"model_type\": \"mlp\"") && saved.contains("\"hidden_act\": \"gelu\"")
        && saved.contains("\"torch_dtype\": \"float32\""), saved);
    String saved16 = Files.readString(folder16.resolve("config.json"));
    assertTrue(saved16.contains("\"torch_dtype\": \"float16\""), saved16);
  }

  @Test
  void checkpointMismatchesAreNamedAndFailUnlessAllowed() throws Exception {
    Path folder = tmp.resolve("m");
    try (PreTrainedModel model = AutoModel.fromPretrained(TestData.resource("torch-tiny/mlp"))) {
      model.savePretrained(folder);
    }
    // A config with a wider second layer: 2.weight/2.bias/4.weight mismatch.
    Files.writeString(folder.resolve("config.json"), "{\"model_type\":\"mlp\",\"input_size\":6,"
        + "\"hidden_sizes\":[5,8],\"num_labels\":3}");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> AutoModel.fromPretrained(folder));
    assertTrue(e.getMessage().contains("2.weight: checkpoint [4, 5], model [8, 5]"), e.getMessage());
    assertTrue(e.getMessage().contains("4.weight: checkpoint [3, 4], model [3, 8]"), e.getMessage());
    try (PreTrainedModel m = AutoModel.fromPretrained(folder,
        FromPretrainedOptions.builder().ignoreMismatchedSizes(true).build())) {
      assertEquals(3, m.loadReport().mismatchedKeys().size());
      assertEquals(List.of(), m.loadReport().missingKeys());
    }
    // One hidden layer fewer: 4.* are unexpected. One more: 6.* are missing.
    Files.writeString(folder.resolve("config.json"), "{\"model_type\":\"mlp\",\"input_size\":6,"
        + "\"hidden_sizes\":[5],\"num_labels\":3}");
    e = assertThrows(IllegalArgumentException.class, () -> AutoModel.fromPretrained(folder));
    assertTrue(e.getMessage().contains("unexpected keys (not in the model): [4.bias, 4.weight]"), e.getMessage());
    Files.writeString(folder.resolve("config.json"), "{\"model_type\":\"mlp\",\"input_size\":6,"
        + "\"hidden_sizes\":[5,4,3],\"num_labels\":3}");
    e = assertThrows(IllegalArgumentException.class, () -> AutoModel.fromPretrained(folder));
    assertTrue(e.getMessage().contains("missing keys (not in the checkpoint): [6.weight, 6.bias]"),
        e.getMessage());
    try (PreTrainedModel m = AutoModel.fromPretrained(folder, FromPretrainedOptions.builder().allowMissingKeys(true)
        .ignoreMismatchedSizes(true).build())) {
      assertEquals(List.of("6.weight", "6.bias"), m.loadReport().missingKeys());
    }
  }

  @Test
  void badFeaturesAreNamed() throws Exception {
    try (PreTrainedModel model = AutoModel.fromPretrained(TestData.resource("torch-tiny/mlp"));
        NDManager batch = model.manager().newSubManager()) {
      var e = assertThrows(IllegalArgumentException.class,
          () -> model.forward(Map.of("features", batch.zeros(new Shape(2, 5))), false));
      assertTrue(e.getMessage().contains("[batch, 6]"), e.getMessage());
      e = assertThrows(IllegalArgumentException.class,
          () -> model.forward(Map.of("input_ids", batch.zeros(new Shape(2, 5))), false));
      assertTrue(e.getMessage().contains("needs 'features'"), e.getMessage());
    }
  }
}
