package io.sparkformers.datasets.internal;

import io.sparkformers.datasets.ColumnType;
import io.sparkformers.datasets.Features;
import io.sparkformers.datasets.internal.InputFiles.InputFile;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.ipc.ArrowStreamReader;

/** Rows of an Arrow IPC file or stream written by any tool (read with Arrow's own, copying, readers). */
public final class ArrowFileRows {
  private ArrowFileRows() {}

  private interface ReaderBody<T> {
    T apply(ArrowReader reader) throws IOException;
  }

  private static <T> T withReader(InputFiles inputs, InputFile f, ReaderBody<T> body) {
    Path local = InputFiles.localPath(f);
    Path temp = null;
    try (BufferAllocator allocator = new RootAllocator()) {
      if (local == null) {
        temp = Files.createTempFile("sparkformers-arrow-", ".arrow");
        try (InputStream in = inputs.open(f)) {
          Files.copy(in, temp, StandardCopyOption.REPLACE_EXISTING);
        }
        local = temp;
      }
      boolean fileFormat = startsWithMagic(local);
      try (FileChannel ch = FileChannel.open(local);
          ArrowReader reader = fileFormat ? new ArrowFileReader(ch, allocator) : new ArrowStreamReader(ch, allocator)) {
        return body.apply(reader);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot read Arrow data from " + f, e);
    } catch (RuntimeException e) {
      if (e.getMessage() != null && e.getMessage().startsWith(f.uri())) {
        throw e;
      }
      throw new IllegalArgumentException(f + ": not a readable Arrow IPC file or stream: " + e.getMessage(), e);
    } finally {
      if (temp != null) {
        try {
          Files.deleteIfExists(temp);
        } catch (IOException e) {
          // best effort: a temp file
        }
      }
    }
  }

  private static boolean startsWithMagic(Path p) throws IOException {
    try (InputStream in = Files.newInputStream(p)) {
      byte[] head = in.readNBytes(6);
      return new String(head, StandardCharsets.US_ASCII).equals("ARROW1");
    }
  }

  public static Features features(InputFiles inputs, InputFile f) {
    if (sizeIsZero(f)) {
      return Features.empty();
    }
    return withReader(inputs, f, r -> {
      try {
        return Features.fromArrow(r.getVectorSchemaRoot().getSchema());
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(f + ": " + e.getMessage(), e);
      }
    });
  }

  private static boolean sizeIsZero(InputFile f) {
    return f.size() == 0;
  }

  public static void read(InputFiles inputs, InputFile f, Features features, Consumer<Map<String, Object>> sink) {
    if (sizeIsZero(f)) {
      return;
    }
    withReader(inputs, f, r -> {
      VectorSchemaRoot root = r.getVectorSchemaRoot();
      Features found = Features.fromArrow(root.getSchema());
      List<String> names = found.names();
      while (r.loadNextBatch()) {
        List<FieldVector> vectors = root.getFieldVectors();
        for (int i = 0; i < root.getRowCount(); i++) {
          Map<String, Object> row = new LinkedHashMap<>();
          for (String n : features.names()) {
            row.put(n, null);
          }
          for (int c = 0; c < names.size(); c++) {
            ColumnType t = found.type(names.get(c));
            row.put(names.get(c), ArrowValues.get(vectors.get(c), t, i));
          }
          sink.accept(row);
        }
      }
      return null;
    });
  }
}
