package io.sparkformers.datasets;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** Writes a dataset's rows out as CSV or JSON lines (Hugging Face's {@code to_csv} and {@code to_json}). */
public final class DatasetWriters {
  private static final JsonFactory JSON = new JsonFactory();

  private DatasetWriters() {}

  /** CSV with a header; fields quoted when they hold the delimiter, a quote or a line break; null is empty. */
  public static void writeCsv(Dataset dataset, Path file) {
    for (Map.Entry<String, ColumnType> e : dataset.features().asMap().entrySet()) {
      if (e.getValue().isList()) {
        throw new IllegalArgumentException("Column '" + e.getKey() + "' is " + e.getValue()
            + ": CSV cannot hold lists; write JSON lines instead");
      }
    }
    try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
      List<String> names = dataset.columnNames();
      w.write(csvLine(names));
      for (Map<String, Object> row : dataset.rows()) {
        StringBuilder line = new StringBuilder();
        for (int i = 0; i < names.size(); i++) {
          if (i > 0) {
            line.append(',');
          }
          Object v = row.get(names.get(i));
          line.append(v == null ? "" : csvField(String.valueOf(v)));
        }
        w.write(line.append('\n').toString());
      }
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot write " + file, e);
    }
  }

  private static String csvLine(List<String> fields) {
    StringBuilder line = new StringBuilder();
    for (int i = 0; i < fields.size(); i++) {
      line.append(i > 0 ? "," : "").append(csvField(fields.get(i)));
    }
    return line.append('\n').toString();
  }

  private static String csvField(String s) {
    if (s.isEmpty() || s.indexOf(',') >= 0 || s.indexOf('"') >= 0 || s.indexOf('\n') >= 0 || s.indexOf('\r') >= 0) {
      return '"' + s.replace("\"", "\"\"") + '"';
    }
    return s;
  }

  /** One JSON object per row, keys in column order, lists as arrays. */
  public static void writeJsonLines(Dataset dataset, OutputStream out, long limit) {
    try {
      long n = Math.min(limit, dataset.numRows());
      for (long i = 0; i < n; i++) {
        JsonGenerator g = JSON.createGenerator(out);
        writeRow(g, dataset.row(i));
        g.flush();
        out.write('\n');
      }
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static void writeJsonLines(Dataset dataset, Path file) {
    try (OutputStream out = new java.io.BufferedOutputStream(Files.newOutputStream(file))) {
      writeJsonLines(dataset, out, Long.MAX_VALUE);
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot write " + file, e);
    }
  }

  private static void writeRow(JsonGenerator g, Map<String, Object> row) throws IOException {
    g.writeStartObject();
    for (Map.Entry<String, Object> e : row.entrySet()) {
      g.writeFieldName(e.getKey());
      writeValue(g, e.getValue());
    }
    g.writeEndObject();
  }

  private static void writeValue(JsonGenerator g, Object v) throws IOException {
    if (v == null) {
      g.writeNull();
    } else if (v instanceof String) {
      g.writeString((String) v);
    } else if (v instanceof Boolean) {
      g.writeBoolean((Boolean) v);
    } else if (v instanceof Integer || v instanceof Long) {
      g.writeNumber(((Number) v).longValue());
    } else if (v instanceof Float) {
      g.writeNumber((Float) v);
    } else if (v instanceof Double) {
      g.writeNumber((Double) v);
    } else if (v.getClass().isArray()) {
      int n = java.lang.reflect.Array.getLength(v);
      g.writeStartArray();
      for (int i = 0; i < n; i++) {
        writeValue(g, java.lang.reflect.Array.get(v, i));
      }
      g.writeEndArray();
    } else {
      g.writeString(String.valueOf(v));
    }
  }
}
