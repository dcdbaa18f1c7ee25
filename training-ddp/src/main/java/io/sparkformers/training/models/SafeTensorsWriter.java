package io.sparkformers.training.models;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonPrimitive;
import io.sparkformers.training.models.SafeTensorsFile.SafeTensorsDtype;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * Writes {@code .safetensors} files byte for byte as the safetensors library does: {@code __metadata__} first,
 * tensors ordered by dtype (widest first, the library's own order) then name, a compact JSON header padded
 * with spaces to a multiple of 8 bytes, then the little-endian data. The file appears atomically (written
 * beside it, then moved into place).
 */
public final class SafeTensorsWriter {
  private SafeTensorsWriter() {}

  /** Writes the tensors as they are typed (a BFLOAT16 tensor is refused). */
  public static void write(Path file, Map<String, NDArray> tensors, Map<String, String> metadata)
      throws IOException {
    write(file, tensors, metadata, null);
  }

  /**
   * Writes the tensors, converting every floating tensor to {@code floatType} (FLOAT32 or FLOAT16) when it is
   * not null.
   */
  public static void write(Path file, Map<String, NDArray> tensors, Map<String, String> metadata,
      DataType floatType) throws IOException {
    record Entry(String name, SafeTensorsDtype dtype, long[] shape, NDArray array) {}
    List<Entry> entries = new ArrayList<>();
    for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
      NDArray a = e.getValue();
      DataType type = a.getDataType();
      if (floatType != null && type.isFloating()) {
        type = floatType;
      }
      entries.add(new Entry(e.getKey(), SafeTensorsDtype.of(type), a.getShape().getShape(), a));
    }
    entries.sort(Comparator.comparing(Entry::dtype).reversed().thenComparing(Entry::name));

    StringBuilder header = new StringBuilder("{");
    if (metadata != null && !metadata.isEmpty()) {
      header.append("\"__metadata__\":{");
      boolean first = true;
      for (Map.Entry<String, String> m : new java.util.TreeMap<>(metadata).entrySet()) {
        header.append(first ? "" : ",").append(json(m.getKey())).append(':').append(json(m.getValue()));
        first = false;
      }
      header.append('}');
    }
    long offset = 0;
    for (Entry e : entries) {
      long n = e.dtype().bytes();
      for (long d : e.shape()) {
        n *= d;
      }
      if (header.length() > 1) {
        header.append(',');
      }
      header.append(json(e.name())).append(":{\"dtype\":\"").append(e.dtype()).append("\",\"shape\":[");
      for (int i = 0; i < e.shape().length; i++) {
        header.append(i == 0 ? "" : ",").append(e.shape()[i]);
      }
      header.append("],\"data_offsets\":[").append(offset).append(',').append(offset + n).append("]}");
      offset += n;
    }
    header.append('}');
    byte[] headerBytes = header.toString().getBytes(StandardCharsets.UTF_8);
    int padded = (headerBytes.length + 7) / 8 * 8;

    Path parent = file.toAbsolutePath().getParent();
    Files.createDirectories(parent);
    Path tmp = io.sparkformers.training.models.internal.TempFiles.beside(file);
    try {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(headerBytes);
        while (head.hasRemaining()) {
          head.put((byte) ' ');
        }
        writeFully(ch, head.flip());
        for (Entry e : entries) {
          NDArray a = e.array();
          DataType target = e.dtype().djlType();
          ByteBuffer data;
          if (a.getDataType() != target) {
            try (NDArray converted = a.toType(target, true)) {
              data = converted.toByteBuffer();
            }
          } else {
            data = a.toByteBuffer();
          }
          if (data.order() != ByteOrder.LITTLE_ENDIAN && e.dtype().bytes() > 1) {
            throw new IOException("cannot write little-endian safetensors on a big-endian machine");
          }
          writeFully(ch, data);
        }
        ch.force(false);
      }
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
    while (buf.hasRemaining()) {
      ch.write(buf);
    }
  }

  private static String json(String s) {
    return new JsonPrimitive(s).toString();
  }
}
