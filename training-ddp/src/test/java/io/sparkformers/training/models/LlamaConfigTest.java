package io.sparkformers.training.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.sparkformers.training.models.llama.LlamaConfig;
import io.sparkformers.training.models.llama.RopeParameters;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Reading Llama/Qwen2/Mistral configs, rotary scaling against transformers' formulas, and the exact errors. */
class LlamaConfigTest {
  private static final String SMALL = "{\"model_type\": \"llama\", \"vocab_size\": 64, \"hidden_size\": 32,"
      + " \"intermediate_size\": 48, \"num_hidden_layers\": 1, \"num_attention_heads\": 4,"
      + " \"num_key_value_heads\": 2, \"max_position_embeddings\": 64";

  private static ModelConfig read(String extraKeys) {
    return AutoConfig.fromJson(SMALL + extraKeys + "}", "test config");
  }

  private static String error(String json) {
    return assertThrows(IllegalArgumentException.class, () -> AutoConfig.fromJson(json, "test config")).getMessage();
  }

  @Test
  void defaultsFollowTransformers() {
    LlamaConfig c = (LlamaConfig) read("");
    assertEquals(8, c.headDim());
    assertEquals(2, c.numKeyValueHeads());
    assertEquals(1e-6, c.rmsNormEps());
    assertEquals(RopeParameters.standard(10000.0), c.rope());
    assertEquals(false, c.tieWordEmbeddings());
    assertEquals(false, c.qkvBias());
    assertEquals("llama", c.modelType());
    LlamaConfig noKv = (LlamaConfig) AutoConfig.fromJson(SMALL.replace("\"num_key_value_heads\": 2,", "") + "}",
        "test config");
    assertEquals(4, noKv.numKeyValueHeads());
  }

  @Test
  void linearScalingDividesEveryFrequency() {
    RopeParameters rope = ((LlamaConfig) read(", \"rope_theta\": 10000.0, \"rope_scaling\": {\"type\": \"linear\","
        + " \"factor\": 4.0}")).rope();
    assertEquals(RopeParameters.linear(10000.0, 4.0), rope);
    float[] inv = rope.inverseFrequencies(8);
    for (int i = 0; i < 4; i++) {
      double expected = 1.0 / Math.pow(10000.0, 2.0 * i / 8) / 4.0;
      assertEquals(expected, inv[i], expected * 1e-6, "inv_freq[" + i + "]");
    }
  }

  /**
   * Llama 3.1's scaling (factor 8, low 1, high 4, original context 8192, theta 500000, head_dim 128) against
   * transformers' _compute_llama3_parameters evaluated in double: wavelengths below 8192/4 keep their frequency,
   * those above 8192/1 are divided by 8, and those between are interpolated.
   */
  @Test
  void llama3ScalingFollowsTransformersFormula() {
    LlamaConfig c = (LlamaConfig) AutoConfig.fromJson(SMALL.replace("\"hidden_size\": 32", "\"hidden_size\": 512")
        + ", \"rope_parameters\": {\"rope_type\": \"llama3\", \"rope_theta\": 500000.0, \"factor\": 8.0,"
        + " \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192}}",
        "test config");
    assertEquals(RopeParameters.llama3(500000.0, 8.0, 1.0, 4.0, 8192), c.rope());
    float[] inv = c.rope().inverseFrequencies(128);
    int kept = 0;
    int divided = 0;
    int smoothed = 0;
    for (int i = 0; i < 64; i++) {
      double base = 1.0 / Math.pow(500000.0, 2.0 * i / 128);
      double wavelen = 2 * Math.PI / base;
      double expected;
      if (wavelen < 8192 / 4.0) {
        expected = base;
        kept++;
      } else if (wavelen > 8192 / 1.0) {
        expected = base / 8;
        divided++;
      } else {
        double smooth = (8192 / wavelen - 1.0) / (4.0 - 1.0);
        expected = (1 - smooth) * base / 8 + smooth * base;
        smoothed++;
      }
      assertEquals(expected, inv[i], expected * 1e-5, "inv_freq[" + i + "]");
    }
    assertEquals(1f, inv[0]);
    // Every regime is exercised: with these values 29 frequencies are kept, 29 divided, 6 interpolated.
    assertEquals(List.of(29, 29, 6), List.of(kept, divided, smoothed));
  }

  @Test
  void unknownRopeTypeIsAnErrorNamingTheKey() {
    assertEquals("test config: key 'rope_scaling.rope_type' is 'yarn', expected one of [default, linear, llama3]",
        error(SMALL + ", \"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4.0}}"));
    assertEquals("test config: key 'rope_parameters.rope_type' is 'dynamic', expected one of [default, linear,"
        + " llama3]", error(SMALL + ", \"rope_parameters\": {\"rope_type\": \"dynamic\", \"rope_theta\": 1.0}}"));
  }

  @Test
  void ropeKeysATypeDoesNotUseOrLacksAreErrors() {
    assertEquals("test config: key 'rope_scaling.attention_factor' is not supported for rope_type 'linear'"
        + " (supported: rope_type, type, rope_theta, factor)",
        error(SMALL + ", \"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0, \"attention_factor\": 1.0}}"));
    assertEquals("test config: missing required key 'rope_parameters.low_freq_factor' (rope_type 'llama3')",
        error(SMALL + ", \"rope_parameters\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"high_freq_factor\":"
            + " 4.0, \"original_max_position_embeddings\": 8192}}"));
    assertEquals("test config: missing required key 'rope_scaling.factor' (rope_type 'linear')",
        error(SMALL + ", \"rope_scaling\": {\"rope_type\": \"linear\"}}"));
    assertEquals("test config: keys 'rope_parameters' and 'rope_scaling' are both set: use one (transformers 5"
        + " writes rope_parameters, earlier versions rope_theta and rope_scaling)",
        error(SMALL + ", \"rope_parameters\": {\"rope_type\": \"default\"}, \"rope_scaling\": {\"type\":"
            + " \"linear\", \"factor\": 2.0}}"));
  }

  @Test
  void missingAndInconsistentKeysAreErrors() {
    assertEquals("test config: missing required key 'hidden_size' (an integer)",
        error(SMALL.replace("\"hidden_size\": 32,", "") + "}"));
    assertEquals("test config: missing required key 'max_position_embeddings' (an integer)",
        error(SMALL.replace(", \"max_position_embeddings\": 64", "") + "}"));
    assertEquals("test config: num_attention_heads 4 is not divisible by num_key_value_heads 3",
        error(SMALL.replace("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3") + "}"));
    assertEquals("test config: key 'hidden_act' is 'mish', expected one of [gelu, gelu_fast, gelu_new,"
        + " gelu_pytorch_tanh, relu, sigmoid, silu, swish, tanh]", error(SMALL + ", \"hidden_act\": \"mish\"}"));
    assertEquals("test config: key 'quantization_config' is not supported by the llama decoder (found"
        + " {\"quant_method\":\"bitsandbytes\"})", error(SMALL + ", \"quantization_config\": {\"quant_method\":"
            + " \"bitsandbytes\"}}"));
  }

  @Test
  void slidingWindowIsOnlyInEffectWhereTransformersAppliesIt() {
    String mistral = SMALL.replace("\"llama\"", "\"mistral\"");
    assertEquals(4, ((LlamaConfig) AutoConfig.fromJson(mistral + ", \"sliding_window\": 4}", "m")).effectiveSlidingWindow());
    assertNull(((LlamaConfig) AutoConfig.fromJson(mistral + ", \"sliding_window\": null}", "m")).effectiveSlidingWindow());
    String qwen2 = SMALL.replace("\"llama\"", "\"qwen2\"");
    // Qwen2: only with use_sliding_window, and only for layers from max_window_layers on.
    assertNull(((LlamaConfig) AutoConfig.fromJson(qwen2 + ", \"sliding_window\": 4}", "q")).effectiveSlidingWindow());
    assertNull(((LlamaConfig) AutoConfig.fromJson(qwen2 + ", \"sliding_window\": 4, \"use_sliding_window\": true,"
        + " \"max_window_layers\": 28}", "q")).effectiveSlidingWindow());
    assertEquals(4, ((LlamaConfig) AutoConfig.fromJson(qwen2 + ", \"sliding_window\": 4, \"use_sliding_window\":"
        + " true, \"max_window_layers\": 0}", "q")).effectiveSlidingWindow());
    assertEquals(4, ((LlamaConfig) AutoConfig.fromJson(qwen2 + ", \"sliding_window\": 4, \"use_sliding_window\":"
        + " true, \"layer_types\": [\"sliding_attention\"]}", "q")).effectiveSlidingWindow());
    LlamaConfig qwen = (LlamaConfig) AutoConfig.fromJson(qwen2 + "}", "q");
    assertEquals(true, qwen.qkvBias());
    assertEquals(false, qwen.outputBias());
  }

  @Test
  void unknownKeysAreKeptAndTheClassicLayoutIsWrittenBack() {
    LlamaConfig c = (LlamaConfig) read(", \"my_key\": [1, 2], \"rope_theta\": 500000.0, \"rope_scaling\":"
        + " {\"rope_type\": \"linear\", \"factor\": 2.0}");
    JsonObject json = c.toJson();
    assertEquals(JsonParser.parseString("[1, 2]"), json.get("my_key"));
    assertEquals(500000, json.get("rope_theta").getAsInt());
    assertEquals(2.0, json.getAsJsonObject("rope_scaling").get("factor").getAsDouble());
    assertEquals(c.toJson(), AutoConfig.fromJson(json.toString(), "again").toJson());
  }
}
