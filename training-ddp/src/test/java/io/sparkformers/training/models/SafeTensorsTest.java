package io.sparkformers.training.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.sparkformers.training.models.SafeTensorsFile.SafeTensorsDtype;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsTest {
  static NDManager manager;
  @TempDir Path tmp;

  @BeforeAll
  static void open() {
    manager = NDManager.newBaseManager("PyTorch");
  }

  @AfterAll
  static void close() {
    manager.close();
  }

  static String sha256(Path file) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
  }

  @Test
  void readsTheReferenceHeaderInFileOrder() throws Exception {
    try (SafeTensorsFile f = SafeTensorsFile.open(TestData.gpt2Tiny().resolve("model.safetensors"))) {
      assertEquals(Map.of("format", "pt"), f.metadata());
      assertEquals(40, f.names().size());
      assertEquals("transformer.h.0.attn.c_attn.bias", f.names().get(0));
      assertEquals("transformer.wte.weight", f.names().get(39));
      var wte = f.info("transformer.wte.weight");
      assertEquals(SafeTensorsDtype.F32, wte.dtype());
      assertArrayEquals(new long[] {1000, 48}, wte.shape());
      assertEquals(348864, wte.begin());
      assertEquals(540864, wte.end());
    }
  }

  @Test
  void writerReproducesTheReferenceFilesByteForByteInF32AndF16() throws Exception {
    Path ref = TestData.gpt2Tiny().resolve("model.safetensors");
    Map<String, NDArray> tensors = new LinkedHashMap<>();
    try (NDManager scope = manager.newSubManager(); SafeTensorsFile f = SafeTensorsFile.open(ref)) {
      // Insertion order reversed on purpose: the writer must order tensors itself.
      var names = new java.util.ArrayList<>(f.names());
      java.util.Collections.reverse(names);
      for (String n : names) {
        tensors.put(n, f.load(n, scope));
      }
      Path out = tmp.resolve("model.safetensors");
      SafeTensorsWriter.write(out, tensors, Map.of("format", "pt"));
      assertEquals("ea215579cc14e8071d3b444176d0bd94e9715d261a7f2a9d44949174da502df5", sha256(out));
      Path out16 = tmp.resolve("model-f16.safetensors");
      SafeTensorsWriter.write(out16, tensors, Map.of("format", "pt"), DataType.FLOAT16);
      assertEquals("674ac62d6000f528e7aeb4ebf3753389889e21adfa9bde00d694009f3d8b8dee", sha256(out16));
    }
  }

  @Test
  void f16IsWidenedExactlyAndBf16BecomesF32() throws Exception {
    try (SafeTensorsFile f = SafeTensorsFile.open(TestData.gpt2Tiny().resolve("model-f16.safetensors"));
        NDManager scope = manager.newSubManager()) {
      float[] widened = f.readFloats("transformer.wpe.weight");
      NDArray asF16 = f.load("transformer.wpe.weight", scope);
      assertEquals(DataType.FLOAT16, asF16.getDataType());
      assertArrayEquals(widened, asF16.toType(DataType.FLOAT32, false).toFloatArray());
    }
    // Halves with exact values: 1, -2, 0.5, 65504 (max), 2^-24 (smallest subnormal), -0.
    short[] halves = {0x3c00, (short) 0xc000, 0x3800, 0x7bff, 0x0001, (short) 0x8000};
    float[] expected = {1f, -2f, 0.5f, 65504f, 0x1p-24f, -0f};
    for (int i = 0; i < halves.length; i++) {
      assertEquals(expected[i], SafeTensorsFile.halfToFloat(halves[i]));
    }
    // BF16 is the top half of an F32: 1.5, -3.25, 1e-3 truncated.
    float[] values = {1.5f, -3.25f, Float.intBitsToFloat(Float.floatToIntBits(1e-3f) & 0xffff0000)};
    ByteBuffer data = ByteBuffer.allocate(6).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : values) {
      data.putShort((short) (Float.floatToIntBits(v) >>> 16));
    }
    Path file = writeRaw("{\"x\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,6]}}", data.array());
    try (SafeTensorsFile f = SafeTensorsFile.open(file); NDManager scope = manager.newSubManager()) {
      NDArray x = f.load("x", scope);
      assertEquals(DataType.FLOAT32, x.getDataType());
      assertArrayEquals(values, x.toFloatArray());
    }
  }

  /** header text as given (no padding), then the data. */
  private Path writeRaw(String header, byte[] data) throws IOException {
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(h.length).put(h).put(data);
    Path file = Files.createTempFile(tmp, "t", ".safetensors");
    Files.write(file, b.array());
    return file;
  }

  private IOException corrupt(Path file) {
    return assertThrows(IOException.class, () -> SafeTensorsFile.open(file).close());
  }

  @Test
  void corruptFilesFailNamingTheFileAndTensor() throws Exception {
    Path tiny = tmp.resolve("tiny.safetensors");
    Files.write(tiny, new byte[] {1, 2, 3});
    assertTrue(corrupt(tiny).getMessage().contains("tiny.safetensors"));

    Path beyond = tmp.resolve("beyond.safetensors");
    Files.write(beyond, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1_000_000).array());
    String m = corrupt(beyond).getMessage();
    assertTrue(m.contains("beyond.safetensors") && m.contains("header length 1000000 is beyond the file"), m);

    // A truncated copy of the reference: the last tensors point past the end.
    Path truncated = tmp.resolve("truncated.safetensors");
    byte[] all = Files.readAllBytes(TestData.gpt2Tiny().resolve("model.safetensors"));
    Files.write(truncated, java.util.Arrays.copyOf(all, all.length - 1000));
    IOException t = corrupt(truncated);
    m = t.getMessage();
    assertTrue(m.contains("truncated.safetensors") && m.contains("'transformer.wte.weight'")
        && m.contains("out of range"), m);
    // A retry cannot cure it: a rank failing on it ends the launch at once.
    assertTrue(t instanceof io.sparkformers.accelerate.NonRetryable, t.getClass().getName());

    m = corrupt(writeRaw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", new byte[12])).getMessage();
    assertTrue(m.contains("'a'") && m.contains("'b'") && m.contains("overlap"), m);

    m = corrupt(writeRaw("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", new byte[8]))
        .getMessage();
    assertTrue(m.contains("'w'") && m.contains("needs 12"), m);

    m = corrupt(writeRaw("{\"w\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,2]}}", new byte[2]))
        .getMessage();
    assertTrue(m.contains("'w'") && m.contains("unknown dtype"), m);

    m = corrupt(writeRaw("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", new byte[4])).getMessage();
    assertTrue(m.contains("'w'") && m.contains("missing 'data_offsets'"), m);

    m = corrupt(writeRaw("{not json", new byte[0])).getMessage();
    assertTrue(m.contains("not valid JSON"), m);
  }

  @Test
  void shardedCheckpointLoadsThroughTheIndex() throws Exception {
    Path folder = tmp.resolve("sharded");
    try (PreTrainedModel model = AutoModel.fromPretrained(TestData.resource("torch-tiny/mlp"))) {
      model.config().save(folder);
      Map<String, NDArray> first = new LinkedHashMap<>();
      Map<String, NDArray> second = new LinkedHashMap<>();
      StringBuilder map = new StringBuilder();
      model.namedParameters().forEach((name, p) -> {
        boolean one = name.startsWith("0.");
        (one ? first : second).put(name, p.getArray());
        map.append(map.length() == 0 ? "" : ",").append('"').append(name).append("\":\"")
            .append(one ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors").append('"');
      });
      SafeTensorsWriter.write(folder.resolve("model-00001-of-00002.safetensors"), first, Map.of("format", "pt"));
      SafeTensorsWriter.write(folder.resolve("model-00002-of-00002.safetensors"), second, Map.of("format", "pt"));
      Files.writeString(folder.resolve("model.safetensors.index.json"),
          "{\"metadata\":{\"total_size\":720},\"weight_map\":{" + map + "}}");
      try (PreTrainedModel loaded = AutoModel.fromPretrained(folder)) {
        assertTrue(loaded.loadReport().isClean());
        for (String name : model.namedParameters().keySet()) {
          assertArrayEquals(model.namedParameters().get(name).getArray().toFloatArray(),
              loaded.namedParameters().get(name).getArray().toFloatArray(), name);
        }
      }
      // An index naming a tensor its shard lacks.
      Files.writeString(folder.resolve("model.safetensors.index.json"),
          "{\"weight_map\":{\"0.weight\":\"model-00002-of-00002.safetensors\"}}");
      IOException e = assertThrows(IOException.class, () -> AutoModel.fromPretrained(folder));
      assertTrue(e.getMessage().contains("'0.weight'") && e.getMessage().contains("model-00002-of-00002"),
          e.getMessage());
    }
  }
}
