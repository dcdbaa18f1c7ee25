package io.sparkformers.training.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import com.google.gson.JsonObject;
import io.sparkformers.training.models.bert.BertForSequenceClassification;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The tiny BERT classifier against plain-torch BertForSequenceClassification (torch-tiny/make_reference.py). */
class BertForSequenceClassificationTest {
  @TempDir Path tmp;

  @Test
  void logitsLossAndGradientsMatchPyTorch() throws Exception {
    JsonObject ref = TestData.json("torch-tiny/reference.json").getAsJsonObject("bert");
    try (PreTrainedModel model = AutoModel.fromPretrained(TestData.resource("torch-tiny/bert"));
        NDManager batch = model.manager().newSubManager()) {
      assertTrue(model.loadReport().isClean(), model.loadReport().toString());
      Shape shape = new Shape(3, 6);
      Map<String, NDArray> inputs = Map.of(
          "input_ids", batch.create(TestData.longs2d(ref.get("input_ids")), shape),
          "token_type_ids", batch.create(TestData.longs2d(ref.get("token_type_ids")), shape),
          "attention_mask", batch.create(TestData.longs2d(ref.get("attention_mask")), shape),
          "labels", batch.create(new long[] {2, 0, 1}));
      boolean before = JniUtils.isGradMode();
      JniUtils.setGradMode(true);
      try {
        ModelOutput out = model.forward(inputs, true);
        // Dropout is 0.1 in the config: training mode differs, so compare the eval forward.
        ModelOutput eval = model.forward(inputs, false);
        assertTrue(TestData.maxAbsDiff(TestData.floats(ref.get("logits")), eval.logits().toFloatArray()) < 1e-5);
        assertEquals(ref.get("loss").getAsFloat(), eval.loss().getFloat(), 1e-5);
        assertTrue(Float.isFinite(out.loss().getFloat()));
        JniUtils.backward((PtNDArray) eval.loss(), (PtNDArray) batch.ones(new Shape()), false, false);
      } finally {
        JniUtils.setGradMode(before);
      }
      float[] classifierGrad = model.namedParameters().get("classifier.weight").getArray().getGradient()
          .toFloatArray();
      assertTrue(TestData.maxAbsDiff(TestData.floats(ref.get("grad_classifier_weight")), classifierGrad) < 1e-5);
      float[] wordGrad = model.namedParameters().get("bert.embeddings.word_embeddings.weight").getArray()
          .getGradient().toFloatArray();
      assertTrue(TestData.maxAbsDiff(TestData.floats(ref.get("grad_word_embeddings")),
          Arrays.copyOf(wordGrad, 64)) < 1e-5);
    }
  }

  @Test
  void oldGammaBetaNamesAndBaseModelPrefixLoad() throws Exception {
    Path folder = tmp.resolve("old");
    Files.createDirectories(folder);
    Files.copy(TestData.resource("torch-tiny/bert/config.json"), folder.resolve("config.json"));
    try (PreTrainedModel model = AutoModel.fromPretrained(TestData.resource("torch-tiny/bert"))) {
      Map<String, NDArray> renamed = new java.util.LinkedHashMap<>();
      model.namedParameters().forEach((name, p) -> {
        String n = name.startsWith("bert.") ? name.substring(5) : name;
        if (n.contains("LayerNorm.")) {
          n = n.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta");
        }
        renamed.put(n, p.getArray());
      });
      renamed.put("cls.predictions.bias", model.namedParameters().get("classifier.bias").getArray());
      SafeTensorsWriter.write(folder.resolve("model.safetensors"), renamed, Map.of("format", "pt"));
      var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
          () -> AutoModel.fromPretrained(folder));
      assertTrue(e.getMessage().contains("unexpected keys (not in the model): [cls.predictions.bias]"),
          e.getMessage());
      try (PreTrainedModel loaded = AutoModel.fromPretrained(folder,
          FromPretrainedOptions.builder().allowUnexpectedKeys(true).build())) {
        for (String name : model.namedParameters().keySet()) {
          org.junit.jupiter.api.Assertions.assertArrayEquals(
              model.namedParameters().get(name).getArray().toFloatArray(),
              loaded.namedParameters().get(name).getArray().toFloatArray(), name);
        }
      }
    }
  }
}
