package io.sparkformers.training.peft;

import static io.sparkformers.training.peft.LoraReferenceTest.hfTiny;
import static io.sparkformers.training.peft.LoraReferenceTest.maxAbsDiff;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import io.sparkformers.training.internal.NoGrad;
import io.sparkformers.training.models.AutoModel;
import io.sparkformers.training.models.SafeTensorsFile;
import io.sparkformers.training.peft.internal.LoraLinear;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** bias, modules_to_save, lora_dropout and init_lora_weights, on the tiny Qwen2 (biased q/k/v, untied head). */
class LoraOptionsTest {
  @TempDir Path tmp;

  @Test
  void biasAndModulesToSaveAreTrainedSavedAndLoaded() throws Exception {
    LoraConfig config = LoraConfig.builder().targetModules("q_proj", "k_proj").bias("lora_only")
        .modulesToSave(List.of("lm_head")).build();
    Path out = tmp.resolve("adapter");
    Map<String, float[]> saved = new java.util.HashMap<>();
    try (PeftModel model = PeftModel.inject(AutoModel.fromPretrained(hfTiny("qwen2")), config)) {
      Set<String> expected = new TreeSet<>();
      for (int l = 0; l < 2; l++) {
        for (String proj : List.of("q_proj", "k_proj")) {
          String p = "base_model.model.model.layers." + l + ".self_attn." + proj;
          expected.addAll(List.of(p + ".bias", p + ".lora_A.weight", p + ".lora_B.weight"));
        }
      }
      expected.add("base_model.model.lm_head.weight");
      assertEquals(expected, new TreeSet<>(model.trainableParameters().keySet()));
      // v_proj's bias is not a LoRA layer's: frozen with bias=lora_only.
      assertFalse(model.namedParameters().get("base_model.model.model.layers.0.self_attn.v_proj.bias")
          .requiresGradient());
      // Change every saved tensor so that loading can be checked.
      try (NoGrad ignored = new NoGrad()) {
        model.trainableParameters().forEach((name, p) -> {
          p.getArray().addi(0.25f);
          saved.put(name, p.getArray().toFloatArray());
        });
      }
      model.saveAdapter(out);
      try (SafeTensorsFile f = SafeTensorsFile.open(out.resolve(PeftModel.WEIGHTS_FILE))) {
        assertEquals(expected, new TreeSet<>(f.names()));
      }
    }
    try (PeftModel loaded = PeftModel.fromPretrained(AutoModel.fromPretrained(hfTiny("qwen2")), out)) {
      assertEquals("lora_only", loaded.loraConfig().bias());
      for (Map.Entry<String, Parameter> e : loaded.trainableParameters().entrySet()) {
        assertEquals(0.0, maxAbsDiff(saved.get(e.getKey()), e.getValue().getArray().toFloatArray()), e.getKey());
      }
    }
  }

  @Test
  void dropoutActsInTrainingOnlyAndInitVariantsDrawAsPeft() throws Exception {
    LoraConfig config = LoraConfig.builder().targetModules("v_proj").loraDropout(0.5).initLoraWeights("false")
        .build();
    try (PeftModel model = PeftModel.inject(AutoModel.fromPretrained(hfTiny("llama")), config);
         NDManager scope = model.manager().newSubManager()) {
      LoraLinear lora = model.adapters().get("model.layers.0.self_attn.v_proj");
      // init_lora_weights=false: both as nn.Linear initialises them, U(±1/√fan_in).
      float[] b = lora.loraB().weight().array().toFloatArray();
      assertTrue(maxAbsDiff(new float[b.length], b) > 0, "B is not zero with init_lora_weights=false");
      for (float v : b) {
        assertTrue(Math.abs(v) <= 1 / Math.sqrt(8));
      }
      NDArray x = scope.randomNormal(new Shape(2, 5, 48));
      NDArray base = lora.base().weight().array().matMul(x.reshape(10, 48).transpose()).transpose().reshape(2, 5, 12);
      float[] eval1 = lora.forward(x, base).toFloatArray();
      float[] eval2 = lora.forward(x, base).toFloatArray();
      assertEquals(0.0, maxAbsDiff(eval1, eval2), "no dropout outside training");
      lora.setTraining(true);
      float[] train = lora.forward(x, base).toFloatArray();
      assertTrue(maxAbsDiff(eval1, train) > 1e-4, "dropout changes the adapter's input in training");
    }
    LoraConfig gaussian = LoraConfig.builder().targetModules("q_proj").initLoraWeights("gaussian").build();
    try (PeftModel model = PeftModel.inject(AutoModel.fromPretrained(hfTiny("llama")), gaussian)) {
      LoraLinear lora = model.adapters().get("model.layers.1.self_attn.q_proj");
      float[] a = lora.loraA().weight().array().toFloatArray();
      double sq = 0;
      for (float v : a) {
        sq += v * v;
      }
      double std = Math.sqrt(sq / a.length);
      assertTrue(Math.abs(std - 1.0 / 8) < 0.02, "gaussian A has std 1/r, got " + std);
      assertEquals(0.0, maxAbsDiff(new float[384], lora.loraB().weight().array().toFloatArray()));
    }
  }
}
