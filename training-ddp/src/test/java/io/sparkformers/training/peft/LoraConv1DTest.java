package io.sparkformers.training.peft;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparkformers.training.ArrayData;
import io.sparkformers.training.Trainer;
import io.sparkformers.training.TrainingArguments;
import io.sparkformers.training.models.AutoModel;
import io.sparkformers.training.models.PreTrainedModel;
import io.sparkformers.training.models.SafeTensorsFile;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * LoRA on GPT-2, whose projections are transformers' Conv1D (weight stored [in, out]): PEFT adapts them with
 * fan_in_fan_out, lora_A [r, in] and lora_B [out, r] as for a Linear, and merges the transposed product.
 */
class LoraConv1DTest {
  @TempDir Path tmp;

  private static Path gpt2Tiny() throws URISyntaxException {
    return Paths.get(LoraConv1DTest.class.getResource("/models/gpt2-tiny").toURI());
  }

  private static final long[] IDS = {5, 17, 42, 9, 33, 71, 2, 60, 18, 4, 90, 27, 51, 8, 39, 12};

  private static float[] logits(PreTrainedModel model) {
    try (NDManager scope = model.manager().newSubManager()) {
      NDArray x = scope.create(IDS, new Shape(1, IDS.length));
      return model.forward(Map.of("input_ids", x), false).logits().toFloatArray();
    }
  }

  private static double maxAbsDiff(float[] a, float[] b) {
    assertEquals(a.length, b.length);
    double d = 0;
    for (int i = 0; i < a.length; i++) {
      d = Math.max(d, Math.abs((double) a[i] - b[i]));
    }
    return d;
  }

  @Test
  void conv1dProjectionsTrainMergeAndSaveAsPeftDoes() throws Exception {
    float[] baseLogits;
    try (PreTrainedModel base = AutoModel.fromPretrained(gpt2Tiny())) {
      baseLogits = logits(base);
    }
    // attn.c_proj is square (48 × 48): a merge that forgot the transpose would still run, and be wrong.
    LoraConfig config = LoraConfig.builder().r(4).loraAlpha(8).targetModules("c_attn", "c_proj")
        .taskType("CAUSAL_LM").build();
    try (PeftModel model = PeftModel.inject(AutoModel.fromPretrained(gpt2Tiny()), config)) {
      assertEquals(List.of("transformer.h.0.attn.c_attn", "transformer.h.0.attn.c_proj",
          "transformer.h.0.mlp.c_proj"), List.copyOf(model.adapters().keySet()).subList(0, 3));
      assertEquals(9, model.adapters().size());
      assertTrue(model.loraConfig().fanInFanOut(), "PEFT sets fan_in_fan_out for Conv1D targets");
      Map<String, ai.djl.nn.Parameter> trainable = model.trainableParameters();
      assertEquals(new Shape(4, 48), trainable.get(PeftModel.KEY_PREFIX + "transformer.h.0.attn.c_attn.lora_A.weight").getArray().getShape());
      assertEquals(new Shape(144, 4), trainable.get(PeftModel.KEY_PREFIX + "transformer.h.0.attn.c_attn.lora_B.weight").getArray().getShape());
      assertEquals(new Shape(4, 192), trainable.get(PeftModel.KEY_PREFIX + "transformer.h.0.mlp.c_proj.lora_A.weight").getArray().getShape());
      // B starts at zero: the adapted model computes the base model's logits exactly.
      assertEquals(0.0, maxAbsDiff(baseLogits, logits(model)));

      long[] ids = new long[4 * IDS.length];
      for (int i = 0; i < ids.length; i++) {
        ids[i] = IDS[(i * 7) % IDS.length];
      }
      ArrayData data = ArrayData.builder().longs("input_ids", ids, IDS.length).longs("labels", ids, IDS.length)
          .build();
      Map<String, Double> metrics = Trainer.builder(model, TrainingArguments.builder(tmp.resolve("out").toString())
              .learningRate(1e-2).lrSchedulerType("constant").perDeviceTrainBatchSize(4).maxSteps(6)
              .saveStrategy("no").disableTqdm(true).build())
          .trainData(data).shuffle(false).build().train();
      assertTrue(metrics.get("train_loss") > 0);
      float[] adapted = logits(model);
      assertTrue(maxAbsDiff(baseLogits, adapted) > 1e-3, "training moved the adapter");

      Path folder = tmp.resolve("adapter");
      model.saveAdapter(folder);
      JsonNode saved = new ObjectMapper().readTree(folder.resolve(LoraConfig.FILE_NAME).toFile());
      assertTrue(saved.get("fan_in_fan_out").asBoolean());
      try (SafeTensorsFile f = SafeTensorsFile.open(folder.resolve(PeftModel.WEIGHTS_FILE))) {
        assertTrue(f.names().contains("base_model.model.transformer.h.2.attn.c_proj.lora_B.weight"), f.names()
            .toString());
        assertEquals(18, f.names().size());
      }
      try (PeftModel reloaded = PeftModel.fromPretrained(AutoModel.fromPretrained(gpt2Tiny()), folder)) {
        assertEquals(0.0, maxAbsDiff(adapted, logits(reloaded)));
      }

      PreTrainedModel merged = model.mergeAndUnload();
      double d = maxAbsDiff(adapted, logits(merged));
      assertTrue(d < 1e-5, "merged logits differ from the adapter's by " + d);
      assertFalse(merged.trainableParameters().keySet().stream().anyMatch(k -> k.contains("lora_")));
    }
  }

  @Test
  void defaultTargetForGpt2IsCAttnAndLinearTargetsSaveFanInFanOutFalse() throws Exception {
    try (PeftModel model = PeftModel.inject(AutoModel.fromPretrained(gpt2Tiny()), LoraConfig.builder().build())) {
      assertEquals(List.of("c_attn"), model.loraConfig().targetModules());
      assertEquals(3, model.adapters().size());
    }
    // PEFT sets fan_in_fan_out back to false for nn.Linear targets, warning that the config said otherwise.
    try (PeftModel model = PeftModel.inject(AutoModel.fromPretrained(LoraReferenceTest.hfTiny("llama")),
        LoraConfig.builder().targetModules("q_proj").fanInFanOut(true).build())) {
      assertFalse(model.loraConfig().fanInFanOut());
    }
    assertArrayEquals(new boolean[] {true}, new boolean[] {
        LoraConfig.fromJson("{\"fan_in_fan_out\": true}").fanInFanOut()});
  }
}
