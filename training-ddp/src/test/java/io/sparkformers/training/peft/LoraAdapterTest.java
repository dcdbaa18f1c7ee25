package io.sparkformers.training.peft;

import static io.sparkformers.training.peft.LoraReferenceTest.batch;
import static io.sparkformers.training.peft.LoraReferenceTest.hfTiny;
import static io.sparkformers.training.peft.LoraReferenceTest.peftArgs;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparkformers.training.Trainer;
import io.sparkformers.training.models.AutoModel;
import io.sparkformers.training.models.PreTrainedModel;
import io.sparkformers.training.models.SafeTensorsFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Adapter files both ways, freezing, configuration errors, and checkpoints of a LoRA run. */
class LoraAdapterTest {
  @TempDir Path tmp;

  private static final ObjectMapper JSON = new ObjectMapper();

  private static LoraConfig peftsConfig() {
    return LoraConfig.builder().r(8).loraAlpha(16).targetModules("q_proj", "v_proj").taskType("CAUSAL_LM").build();
  }

  @Test
  void savedAdapterHasPeftsKeysShapesAndConfig() throws Exception {
    try (PeftModel model = PeftModel.inject(AutoModel.fromPretrained(hfTiny("llama")),
        peftsConfig().toBuilder().baseModelNameOrPath("../../llama").build())) {
      Path out = tmp.resolve("adapter");
      model.saveAdapter(out);
      Path ref = hfTiny("lora/adapter_init");
      try (SafeTensorsFile ours = SafeTensorsFile.open(out.resolve(PeftModel.WEIGHTS_FILE));
           SafeTensorsFile theirs = SafeTensorsFile.open(ref.resolve(PeftModel.WEIGHTS_FILE))) {
        assertEquals(new TreeSet<>(theirs.names()), new TreeSet<>(ours.names()));
        for (String key : theirs.names()) {
          assertArrayEquals(theirs.info(key).shape(), ours.info(key).shape(), key);
          assertEquals(theirs.info(key).dtype(), ours.info(key).dtype(), key);
          if (key.contains("lora_B")) {
            for (float v : ours.readFloats(key)) {
              assertEquals(0f, v, key + ": PEFT initialises B with zeros");
            }
          } else {
            // kaiming_uniform_(a=√5) over [r, in=48]: U(±1/√48).
            for (float v : ours.readFloats(key)) {
              assertTrue(Math.abs(v) <= 1 / Math.sqrt(48), key + " " + v);
            }
          }
        }
        assertEquals(theirs.metadata(), ours.metadata());
      }
      JsonNode theirs = JSON.readTree(ref.resolve(LoraConfig.FILE_NAME).toFile());
      JsonNode ours = JSON.readTree(out.resolve(LoraConfig.FILE_NAME).toFile());
      assertEquals(theirs, ours);
    }
  }

  @Test
  void peftsConfigReadsAndFrozenBaseGetsNoGradientOrOptimizerState() throws Exception {
    LoraConfig c = LoraConfig.load(hfTiny("lora/adapter_init"));
    assertEquals(8, c.r());
    assertEquals(2.0, c.scaling());
    assertEquals(List.of("q_proj", "v_proj"), c.targetModules());
    assertEquals(16 / Math.sqrt(8), c.toBuilder().useRslora(true).build().scaling(), 1e-15);
    try (PeftModel model = PeftModel.fromPretrained(AutoModel.fromPretrained(hfTiny("llama")),
        hfTiny("lora/adapter_init"))) {
      assertEquals(8, model.trainableParameters().size());
      model.namedParameters().forEach((name, p) -> assertEquals(name.contains(".lora_"), p.requiresGradient(), name));
      Path out = tmp.resolve("run");
      Trainer t = Trainer.builder(model, peftArgs(out).maxSteps(2).saveSteps(2).build()).trainData(batch())
          .shuffle(false).build();
      t.train();
      Path ck = out.resolve("checkpoint-2");
      assertFalse(Files.exists(ck.resolve("model.safetensors")), "a LoRA checkpoint does not hold the base");
      try (SafeTensorsFile adapter = SafeTensorsFile.open(ck.resolve(PeftModel.WEIGHTS_FILE));
           SafeTensorsFile opt = SafeTensorsFile.open(ck.resolve("optimizer.safetensors"))) {
        assertEquals(model.trainableParameters().keySet(), Set.copyOf(adapter.names()));
        assertEquals(2 * 8 + 1, opt.names().size(), "exp_avg and exp_avg_sq of the 8 adapter tensors, and step");
        for (String key : opt.names()) {
          assertTrue(key.contains(".lora_") || !key.contains("."), "optimizer state of a frozen weight: " + key);
        }
      }
      assertTrue(Files.isRegularFile(ck.resolve(LoraConfig.FILE_NAME)));
    }
  }

  @Test
  void resumingALoraRunIsBitIdentical() throws Exception {
    Path out = tmp.resolve("full");
    String uninterrupted;
    try (PeftModel model = PeftModel.fromPretrained(AutoModel.fromPretrained(hfTiny("llama")),
        hfTiny("lora/adapter_init"))) {
      Trainer t = Trainer.builder(model, peftArgs(out).saveSteps(2).build()).trainData(batch()).shuffle(false)
          .build();
      t.train();
      uninterrupted = t.parameterChecksum();
    }
    try (PeftModel model = PeftModel.fromPretrained(AutoModel.fromPretrained(hfTiny("llama")),
        hfTiny("lora/adapter_init"))) {
      Trainer t = Trainer.builder(model, peftArgs(tmp.resolve("resumed")).saveStrategy("no")
          .resumeFromCheckpoint(out.resolve("checkpoint-2").toString()).build()).trainData(batch()).shuffle(false)
          .build();
      t.train();
      assertEquals(4, t.state().globalStep());
      assertEquals(uninterrupted, t.parameterChecksum());
    }
    // The last checkpoint is an adapter folder PEFT (and we) load: continuing training from a saved adapter.
    try (PeftModel model = PeftModel.fromPretrained(AutoModel.fromPretrained(hfTiny("llama")),
        out.resolve("checkpoint-4"))) {
      assertEquals(8, model.trainableParameters().size());
    }
  }

  @Test
  void configErrorsNameTheKey() {
    IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
        () -> LoraConfig.fromJson("{\"r\": 4, \"lora_alfa\": 8, \"target_modules\": [\"q_proj\"]}"));
    assertEquals("unknown LoraConfig key(s): lora_alfa", unknown.getMessage());
    for (String key : List.of("load_in_4bit", "load_in_8bit", "bnb_4bit_quant_type", "quantization_config")) {
      IllegalArgumentException q = assertThrows(IllegalArgumentException.class,
          () -> LoraConfig.fromJson("{\"" + key + "\": true}"));
      assertEquals(key + ": 4-bit/8-bit base weights (QLoRA, bitsandbytes) need quantized matmul kernels that "
          + "DJL's PyTorch engine does not have; train LoRA over float32 (or float16) base weights instead",
          q.getMessage());
    }
    assertEquals("use_dora=true is not supported by sparkformers' LoRA", assertThrows(IllegalArgumentException.class,
        () -> LoraConfig.fromJson("{\"use_dora\": true}")).getMessage());
    assertEquals("peft_type=IA3: only LORA adapters are supported", assertThrows(IllegalArgumentException.class,
        () -> LoraConfig.fromJson("{\"peft_type\": \"IA3\"}")).getMessage());
    LoraConfig fromMap = LoraConfig.fromMap(java.util.Map.of("r", 4, "lora_alpha", 8, "target_modules",
        List.of("q_proj"), "use_rslora", true));
    assertEquals(8 / 2.0, fromMap.scaling());
    assertEquals("bnb_4bit_compute_dtype: " + LoraConfig.QUANTIZATION_ERROR, assertThrows(
        IllegalArgumentException.class, () -> LoraConfig.fromMap(java.util.Map.of("bnb_4bit_compute_dtype",
            "float16"))).getMessage());
    assertEquals("bias must be one of none, all, lora_only; got 'some'", assertThrows(IllegalArgumentException.class,
        () -> LoraConfig.builder().bias("some").build()).getMessage());
  }

  @Test
  void targetsThatMatchNothingOrAreNotLinearAreErrors() throws Exception {
    try (PreTrainedModel model = AutoModel.fromPretrained(hfTiny("llama"))) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> PeftModel.inject(model, LoraConfig.builder().targetModules("q_proj", "qkv_proj", "c_attn").build()));
      assertEquals("target_modules [qkv_proj, c_attn] match no module of the llama model", e.getMessage());
      e = assertThrows(IllegalArgumentException.class,
          () -> PeftModel.inject(model, LoraConfig.builder().targetModulesRegex(".*\\.mlp\\.nothing").build()));
      assertEquals("target_modules '.*\\.mlp\\.nothing' matches no module of the llama model", e.getMessage());
      e = assertThrows(IllegalArgumentException.class,
          () -> PeftModel.inject(model, LoraConfig.builder().targetModules("input_layernorm").build()));
      assertTrue(e.getMessage().startsWith("target module model.layers.0.input_layernorm is a RMSNorm"),
          e.getMessage());
    }
    // all-linear: every Linear but the output layer; the saved config names what it resolved to.
    try (PeftModel model = PeftModel.inject(AutoModel.fromPretrained(hfTiny("llama")),
        LoraConfig.fromJson("{\"target_modules\": \"all-linear\"}"))) {
      assertEquals(14, model.adapters().size());
      assertEquals(List.of("down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"),
          model.loraConfig().targetModules());
    }
    // No target_modules: PEFT's default for llama.
    try (PeftModel model = PeftModel.inject(AutoModel.fromPretrained(hfTiny("llama")), LoraConfig.builder().build())) {
      assertEquals(List.of("q_proj", "v_proj"), model.loraConfig().targetModules());
      assertEquals(4, model.adapters().size());
    }
    // A regex over whole paths, as PEFT's re.fullmatch: only layer 1's MLP projections.
    try (PeftModel model = PeftModel.inject(AutoModel.fromPretrained(hfTiny("llama")),
        LoraConfig.builder().targetModulesRegex("model\\.layers\\.1\\.mlp\\.(gate|up|down)_proj").build())) {
      assertEquals(List.of("model.layers.1.mlp.gate_proj", "model.layers.1.mlp.up_proj",
          "model.layers.1.mlp.down_proj"), List.copyOf(model.adapters().keySet()));
    }
  }
}
