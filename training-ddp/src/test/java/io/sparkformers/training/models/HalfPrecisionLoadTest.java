package io.sparkformers.training.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.types.DataType;
import io.sparkformers.training.models.mlp.MlpConfig;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** F16 and BF16 checkpoints (written byte by byte here) load as the exact float32 values they encode. */
class HalfPrecisionLoadTest {
  @TempDir Path tmp;

  /** One tensor of a hand-written safetensors file: dtype, shape, and its raw 16-bit values. */
  private record Tensor(String name, String dtype, long[] shape, short[] bits) {}

  private static void write(Path file, Tensor... tensors) throws IOException {
    StringBuilder header = new StringBuilder("{");
    long offset = 0;
    for (Tensor t : tensors) {
      long end = offset + 2L * t.bits().length;
      header.append(header.length() > 1 ? "," : "").append('"').append(t.name()).append("\":{\"dtype\":\"")
          .append(t.dtype()).append("\",\"shape\":").append(java.util.Arrays.toString(t.shape()).replace(" ", ""))
          .append(",\"data_offsets\":[").append(offset).append(',').append(end).append("]}");
      offset = end;
    }
    header.append('}');
    while (header.length() % 8 != 0) {
      header.append(' ');
    }
    byte[] h = header.toString().getBytes(StandardCharsets.UTF_8);
    ByteBuffer out = ByteBuffer.allocate(8 + h.length + (int) offset).order(ByteOrder.LITTLE_ENDIAN);
    out.putLong(h.length).put(h);
    for (Tensor t : tensors) {
      for (short s : t.bits()) {
        out.putShort(s);
      }
    }
    Files.write(file, out.array());
  }

  private static short bf16(float v) {
    return (short) (Float.floatToIntBits(v) >>> 16); // exact for the values below (low 16 bits are zero)
  }

  @Test
  void bf16AndF16BecomeTheirExactFloat32Values() throws Exception {
    // bf16: values whose float32 low half is zero, from tiny to huge (2^127) and negative.
    float[] weight = {1f, -2.5f, 0.15625f, 0x1p127f, -0x1p-100f, 3f};
    short[] weightBits = new short[weight.length];
    for (int i = 0; i < weight.length; i++) {
      weightBits[i] = bf16(weight[i]);
    }
    // f16: 1.0 and the largest normal (65504); the subnormal 2^-24 and -1/3 rounded to half come below.
    short[] biasBits = {0x3c00, 0x7bff};
    Path folder = tmp.resolve("half");
    MlpConfig.builder().inputSize(3).numLabels(2).build().save(folder);
    write(folder.resolve("model.safetensors"),
        new Tensor("0.weight", "BF16", new long[] {2, 3}, weightBits),
        new Tensor("0.bias", "F16", new long[] {2}, biasBits));
    try (PreTrainedModel model = AutoModel.fromPretrained(folder)) {
      var w = model.namedParameters().get("0.weight").getArray();
      var b = model.namedParameters().get("0.bias").getArray();
      assertEquals(DataType.FLOAT32, w.getDataType());
      assertEquals(DataType.FLOAT32, b.getDataType());
      assertArrayEquals(weight, w.toFloatArray());
      assertArrayEquals(new float[] {1f, 65504f}, b.toFloatArray());
      assertEquals(List.of(2L, 3L), java.util.Arrays.stream(w.getShape().getShape()).boxed().toList());
    }

    // The other way round, and against the reader's own float[] widening.
    write(folder.resolve("model.safetensors"),
        new Tensor("0.weight", "F16", new long[] {2, 3}, new short[] {0x3c00, 0x0001, (short) 0xb555, 0, 0x7bff,
            (short) 0xfbff}),
        new Tensor("0.bias", "BF16", new long[] {2}, new short[] {bf16(-7f), bf16(0.5f)}));
    try (PreTrainedModel model = AutoModel.fromPretrained(folder);
        SafeTensorsFile file = SafeTensorsFile.open(folder.resolve("model.safetensors"))) {
      float[] w = model.namedParameters().get("0.weight").getArray().toFloatArray();
      assertArrayEquals(new float[] {1f, 0x1p-24f, -0.333251953125f, 0f, 65504f, -65504f}, w);
      assertArrayEquals(file.readFloats("0.weight"), w);
      assertArrayEquals(new float[] {-7f, 0.5f}, model.namedParameters().get("0.bias").getArray().toFloatArray());
    }
  }
}
