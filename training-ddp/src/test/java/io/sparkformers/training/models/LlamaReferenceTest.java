package io.sparkformers.training.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import io.sparkformers.training.models.llama.LlamaConfig;
import io.sparkformers.training.models.llama.LlamaForCausalLM;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * transformers' LlamaForCausalLM and Qwen2ForCausalLM against their own outputs (hf-tiny/README.md): logits
 * within 1e-4, losses within 1e-5, greedy tokens identical one prompt at a time and as a left-padded batch,
 * from config.json in both layouts.
 */
class LlamaReferenceTest {
  @TempDir Path tmp;

  /** A model folder of {@code model} whose config.json is the reference's {@code configFile}. */
  private Path folder(String model, String configFile) throws IOException {
    Path src = TestData.hfTiny(model);
    Path dst = tmp.resolve(model + "-" + configFile);
    Files.createDirectories(dst);
    Files.copy(src.resolve(configFile), dst.resolve("config.json"));
    Files.copy(src.resolve("model.safetensors"), dst.resolve("model.safetensors"));
    Files.copy(src.resolve("generation_config.json"), dst.resolve("generation_config.json"));
    return dst;
  }

  private static JsonObject results(String model) throws IOException {
    return com.google.gson.JsonParser.parseString(Files.readString(TestData.hfTiny(model).resolve("results.json")))
        .getAsJsonObject();
  }

  private static float[] f32(Path file) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
    float[] out = new float[b.remaining() / 4];
    b.asFloatBuffer().get(out);
    return out;
  }

  @ParameterizedTest
  @CsvSource({"llama, config.json", "llama, config.transformers5.json", "qwen2, config.json",
      "qwen2, config.transformers5.json"})
  void logitsAndLossesMatchTransformers(String name, String configFile) throws Exception {
    JsonObject results = results(name);
    try (PreTrainedModel model = AutoModel.fromPretrained(folder(name, configFile));
        NDManager scope = model.manager().newSubManager()) {
      assertTrue(model.loadReport().isClean(), model.loadReport().toString());
      assertTrue(model instanceof LlamaForCausalLM);
      assertEquals(name, model.modelType());
      JsonArray sequences = results.getAsJsonArray("sequences");
      for (int s = 0; s < sequences.size(); s++) {
        int[] ids = TestData.ints(sequences.get(s));
        NDArray x = scope.create(ids, new Shape(1, ids.length));
        ModelOutput out = model.forward(Map.of("input_ids", x, "labels", x), false);
        if (s == 0) {
          double diff = TestData.maxAbsDiff(f32(TestData.hfTiny(name).resolve("logits_seq0.f32")),
              out.logits().toFloatArray());
          assertTrue(diff < 1e-4, name + " seq0 logits differ by " + diff);
        }
        assertEquals(results.getAsJsonArray("loss").get(s).getAsDouble(), out.loss().getFloat(), 1e-5,
            name + " seq" + s + " loss");
        int[] masked = ids.clone();
        java.util.Arrays.fill(masked, 0, 5, -100);
        NDArray labels = scope.create(masked, new Shape(1, ids.length));
        ModelOutput maskedOut = model.forward(Map.of("input_ids", x, "labels", labels), false);
        assertEquals(results.getAsJsonArray("masked_loss").get(s).getAsDouble(), maskedOut.loss().getFloat(), 1e-5,
            name + " seq" + s + " masked loss");
      }
    }
  }

  @ParameterizedTest
  @CsvSource({"llama, config.json", "llama, config.transformers5.json", "qwen2, config.json",
      "qwen2, config.transformers5.json"})
  void greedyTokensMatchOneAtATimeAndAsALeftPaddedBatch(String name, String configFile) throws Exception {
    JsonObject results = results(name);
    try (CausalLM model = (CausalLM) AutoModel.fromPretrained(folder(name, configFile))) {
      // No end-of-sequence stop, as the reference ran; pad id 0 as its batch was padded.
      GenerationConfig greedy = GenerationConfig.builder().maxNewTokens(12).eosTokenIds(List.of()).padTokenId(0)
          .build();
      List<int[]> prompts = new ArrayList<>();
      List<int[]> expected = new ArrayList<>();
      for (var c : results.getAsJsonArray("greedy")) {
        int[] prompt = TestData.ints(c.getAsJsonObject().get("prompt"));
        int[] tokens = TestData.ints(c.getAsJsonObject().get("new_tokens"));
        prompts.add(prompt);
        expected.add(tokens);
        assertArrayEquals(tokens, model.generate(List.of(prompt), greedy).get(0), name + " cached");
        assertArrayEquals(tokens, model.generate(List.of(prompt), greedy.toBuilder().useCache(false).build()).get(0),
            name + " without cache");
      }
      JsonArray batchTokens = results.getAsJsonObject("greedy_left_padded_batch").getAsJsonArray("new_tokens");
      List<int[]> batch = model.generate(prompts, greedy);
      for (int r = 0; r < prompts.size(); r++) {
        assertArrayEquals(TestData.ints(batchTokens.get(r)), batch.get(r), name + " batch row " + r);
        assertArrayEquals(expected.get(r), batch.get(r), name + " batch row " + r + " vs one at a time");
      }
    }
  }

  /**
   * A BF16 copy of the weights (each float32 rounded to nearest-even bfloat16, written here) loads to exactly
   * the rounded floats. The reference has no run on bf16-rounded weights, so the logits are only held within a
   * loose bound of the float32 model's (bf16 keeps 8 bits of mantissa).
   */
  @ParameterizedTest
  @ValueSource(strings = {"llama", "qwen2"})
  void bf16CopyLoadsToTheRoundedWeights(String name) throws Exception {
    Path f32 = folder(name, "config.json");
    Path bf16 = tmp.resolve(name + "-bf16");
    Files.createDirectories(bf16);
    Files.copy(f32.resolve("config.json"), bf16.resolve("config.json"));
    Map<String, float[]> rounded = writeBf16Copy(f32.resolve("model.safetensors"), bf16.resolve("model.safetensors"));
    int[] ids = TestData.ints(results(name).getAsJsonArray("sequences").get(0));
    try (PreTrainedModel full = AutoModel.fromPretrained(f32); PreTrainedModel half = AutoModel.fromPretrained(bf16);
        NDManager scope = half.manager().newSubManager()) {
      for (var e : half.namedParameters().entrySet()) {
        assertArrayEquals(rounded.get(e.getKey()), e.getValue().getArray().toFloatArray(), e.getKey());
      }
      NDArray x = scope.create(ids, new Shape(1, ids.length));
      float[] a = full.forward(Map.of("input_ids", x), false).logits().toFloatArray();
      float[] b = half.forward(Map.of("input_ids", x), false).logits().toFloatArray();
      double diff = TestData.maxAbsDiff(a, b);
      assertTrue(diff > 0 && diff < 0.05, name + " bf16 logits differ from float32 by " + diff);
    }
  }

  /** bfloat16 of a float32, rounded to nearest, ties to even (torch's .to(torch.bfloat16)); NaN stays NaN. */
  static short bf16(float v) {
    int bits = Float.floatToRawIntBits(v);
    if (Float.isNaN(v)) {
      return (short) ((bits >>> 16) | 0x40);
    }
    int rounding = 0x7fff + ((bits >>> 16) & 1);
    return (short) ((bits + rounding) >>> 16);
  }

  /** Writes every tensor of {@code src} as BF16 into {@code dst}; returns the rounded values as floats. */
  static Map<String, float[]> writeBf16Copy(Path src, Path dst) throws IOException {
    Map<String, float[]> rounded = new java.util.LinkedHashMap<>();
    StringBuilder header = new StringBuilder("{");
    List<short[]> data = new ArrayList<>();
    long offset = 0;
    try (SafeTensorsFile in = SafeTensorsFile.open(src)) {
      for (String name : in.names()) {
        float[] values = in.readFloats(name);
        short[] bits = new short[values.length];
        float[] back = new float[values.length];
        for (int i = 0; i < values.length; i++) {
          bits[i] = bf16(values[i]);
          back[i] = Float.intBitsToFloat(bits[i] << 16);
        }
        rounded.put(name, back);
        data.add(bits);
        long end = offset + 2L * bits.length;
        header.append(header.length() > 1 ? "," : "").append('"').append(name).append("\":{\"dtype\":\"BF16\","
            + "\"shape\":").append(java.util.Arrays.toString(in.info(name).shape()).replace(" ", ""))
            .append(",\"data_offsets\":[").append(offset).append(',').append(end).append("]}");
        offset = end;
      }
    }
    header.append('}');
    while (header.length() % 8 != 0) {
      header.append(' ');
    }
    byte[] h = header.toString().getBytes(StandardCharsets.UTF_8);
    ByteBuffer out = ByteBuffer.allocate(8 + h.length + (int) offset).order(ByteOrder.LITTLE_ENDIAN);
    out.putLong(h.length).put(h);
    for (short[] bits : data) {
      for (short s : bits) {
        out.putShort(s);
      }
    }
    Files.write(dst, out.array());
    return rounded;
  }

  @ParameterizedTest
  @ValueSource(strings = {"llama", "qwen2"})
  void generationConfigIsReadAndWrittenBackUnchanged(String name) throws Exception {
    Path folder = TestData.hfTiny(name);
    GenerationConfig g = GenerationConfig.fromPretrained(folder).build();
    assertEquals(List.of(2), g.eosTokenIds());
    assertTrue(g.useCache());
    Path saved = tmp.resolve(name + "-generation");
    g.save(saved);
    assertEquals(com.google.gson.JsonParser.parseString(Files.readString(folder.resolve("generation_config.json"))),
        com.google.gson.JsonParser.parseString(Files.readString(saved.resolve("generation_config.json"))));
    GenerationConfig changed = g.toBuilder().maxNewTokens(7).doSample(true).topK(5).useCache(false).build();
    changed.save(saved);
    GenerationConfig back = GenerationConfig.fromPretrained(saved).build();
    assertEquals(7, back.maxNewTokens());
    assertTrue(back.doSample());
    assertEquals(5, back.topK());
    assertTrue(!back.useCache());
  }

  @ParameterizedTest
  @ValueSource(strings = {"llama", "qwen2"})
  void bothConfigLayoutsReadTheSameAndWriteBackAsRead(String name) throws Exception {
    LlamaConfig classic = (LlamaConfig) AutoConfig.fromPretrained(TestData.hfTiny(name).resolve("config.json"));
    LlamaConfig t5 = (LlamaConfig) AutoConfig.fromPretrained(
        TestData.hfTiny(name).resolve("config.transformers5.json"));
    assertEquals(classic.rope(), t5.rope());
    assertEquals(classic.headDim(), t5.headDim());
    assertEquals(1, classic.numKeyValueHeads());
    assertNull(classic.effectiveSlidingWindow());
    assertTrue(classic.toJson().has("rope_scaling") && !classic.toJson().has("rope_parameters"));
    assertTrue(t5.toJson().has("rope_parameters") && !t5.toJson().has("rope_scaling"));
    // Keys the config does not interpret are written back unchanged.
    assertEquals("5.17.0", t5.toJson().get("transformers_version").getAsString());
    Path saved = tmp.resolve(name + "-saved");
    t5.save(saved);
    assertEquals(t5.toJson(), AutoConfig.fromPretrained(saved).toJson());
  }
}
