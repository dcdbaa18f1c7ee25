package io.sparkformers.training.checkpoint;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The safetensors file format: an 8-byte little-endian header length, a JSON header naming each tensor's
 * {@code dtype}, {@code shape} and {@code data_offsets}, then the raw little-endian data.
 */
public final class SafeTensors {
  private static final ObjectMapper JSON = new ObjectMapper();

  private SafeTensors() {}

  /** One tensor: its safetensors dtype (F32, F64, I64, I32, F16), shape and little-endian bytes. */
  public record Tensor(String dtype, long[] shape, ByteBuffer data) {
    public Tensor {
      data = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    }

    public long numel() {
      long n = 1;
      for (long d : shape) {
        n *= d;
      }
      return n;
    }

    public static Tensor ofFloats(long[] shape, float[] values) {
      ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
      b.asFloatBuffer().put(values);
      return new Tensor("F32", shape, b);
    }

    public float[] floats() {
      float[] out = new float[(int) numel()];
      data.duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
      return out;
    }
  }

  static int bytesPer(String dtype) {
    return switch (dtype) {
      case "F64", "I64" -> 8;
      case "F32", "I32" -> 4;
      case "F16", "BF16", "I16" -> 2;
      case "I8", "U8", "BOOL" -> 1;
      default -> throw new IllegalArgumentException("unknown safetensors dtype " + dtype);
    };
  }

  /** Writes the tensors, in the map's order, with optional string metadata. */
  public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata)
      throws IOException {
    Map<String, Object> header = new LinkedHashMap<>();
    if (metadata != null && !metadata.isEmpty()) {
      header.put("__metadata__", metadata);
    }
    long offset = 0;
    for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
      Tensor t = e.getValue();
      long bytes = t.numel() * bytesPer(t.dtype());
      if (t.data().remaining() != bytes) {
        throw new IllegalArgumentException("tensor '" + e.getKey() + "' has " + t.data().remaining()
            + " bytes, its shape needs " + bytes);
      }
      Map<String, Object> entry = new LinkedHashMap<>();
      entry.put("dtype", t.dtype());
      entry.put("shape", t.shape());
      entry.put("data_offsets", new long[] {offset, offset + bytes});
      header.put(e.getKey(), entry);
      offset += bytes;
    }
    byte[] json = JSON.writeValueAsBytes(header);
    int padded = (json.length + 7) / 8 * 8;
    byte[] headerBytes = new byte[padded];
    java.util.Arrays.fill(headerBytes, (byte) ' ');
    System.arraycopy(json, 0, headerBytes, 0, json.length);
    try (OutputStream out = Files.newOutputStream(file)) {
      ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded);
      out.write(len.array());
      out.write(headerBytes);
      byte[] chunk = new byte[1 << 16];
      for (Tensor t : tensors.values()) {
        ByteBuffer d = t.data().duplicate();
        while (d.hasRemaining()) {
          int n = Math.min(chunk.length, d.remaining());
          d.get(chunk, 0, n);
          out.write(chunk, 0, n);
        }
      }
    }
  }

  /** Reads every tensor, in file order. Errors name the file and what is wrong. */
  public static Map<String, Tensor> read(Path file) throws IOException {
    byte[] all = Files.readAllBytes(file);
    ByteBuffer buf = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
    if (all.length < 8) {
      throw new IOException(file + ": too short for a safetensors file (" + all.length + " bytes)");
    }
    long headerLen = buf.getLong(0);
    if (headerLen < 2 || headerLen > all.length - 8) {
      throw new IOException(file + ": header length " + headerLen + " does not fit the file's "
          + all.length + " bytes");
    }
    Map<String, Object> header;
    try {
      header = JSON.readValue(new String(all, 8, (int) headerLen, StandardCharsets.UTF_8).trim(),
          new TypeReference<LinkedHashMap<String, Object>>() {});
    } catch (IOException e) {
      throw new IOException(file + ": the safetensors header is not valid JSON: " + e.getMessage(), e);
    }
    long dataStart = 8 + headerLen;
    List<Map.Entry<String, long[]>> order = new ArrayList<>();
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (Map.Entry<String, Object> e : header.entrySet()) {
      if (e.getKey().equals("__metadata__")) {
        continue;
      }
      @SuppressWarnings("unchecked")
      Map<String, Object> entry = (Map<String, Object>) e.getValue();
      String dtype = (String) entry.get("dtype");
      List<?> shapeList = (List<?>) entry.get("shape");
      List<?> offsets = (List<?>) entry.get("data_offsets");
      long[] shape = new long[shapeList.size()];
      for (int i = 0; i < shape.length; i++) {
        shape[i] = ((Number) shapeList.get(i)).longValue();
      }
      long begin = ((Number) offsets.get(0)).longValue();
      long end = ((Number) offsets.get(1)).longValue();
      Tensor probe = new Tensor(dtype, shape, ByteBuffer.allocate(0));
      if (end - begin != probe.numel() * bytesPer(dtype) || dataStart + end > all.length) {
        throw new IOException(file + ": tensor '" + e.getKey() + "' has data_offsets [" + begin + ", " + end
            + "] that do not match its shape or the file's length");
      }
      ByteBuffer data = ByteBuffer.wrap(all, (int) (dataStart + begin), (int) (end - begin)).slice();
      out.put(e.getKey(), new Tensor(dtype, shape, data));
      order.add(Map.entry(e.getKey(), offsets.stream().mapToLong(o -> ((Number) o).longValue()).toArray()));
    }
    return out;
  }
}
