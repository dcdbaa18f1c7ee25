package io.sparkformers.datasets.internal;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparkformers.datasets.ColumnType;
import io.sparkformers.datasets.Features;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * JSON lines (one object per line; blank lines skipped) or one JSON array of objects, typed as pyarrow's
 * JSON reader types them: integers INT64, numbers with a fraction FLOAT64 (a column holding both is FLOAT64),
 * booleans, strings, arrays of numbers as lists; a key missing from a row is null there. Nested objects are
 * not supported and are reported with their file, line and key.
 */
public final class JsonReader {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** A row and the line it started on. */
  private interface RowSink {
    void accept(JsonNode row, long line);
  }

  private JsonReader() {}

  private static void forEachObject(Supplier<InputStream> open, String source, RowSink sink) {
    // Peek at the first non-blank byte: '[' means one JSON array, anything else JSON lines.
    int b = firstByte(open, source);
    if (b < 0) {
      return;
    }
    if (b == '[') {
      forEachInArray(open, source, sink);
      return;
    }
    try (Utf8LineReader lines = new Utf8LineReader(open.get(), source)) {
      eachLine(lines, source, sink);
    }
  }

  /** True when the file holds one JSON array rather than JSON lines (its first non-blank byte is '['). */
  public static boolean isArray(Supplier<InputStream> open, String source) {
    return firstByte(open, source) == '[';
  }

  /** The first byte that is not blank or a byte order mark's, or -1 for none. */
  private static int firstByte(Supplier<InputStream> open, String source) {
    try (InputStream in = open.get()) {
      int b;
      do {
        b = in.read();
      } while (b == ' ' || b == '\n' || b == '\r' || b == '\t' || b == 0xEF || b == 0xBB || b == 0xBF);
      return b;
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot read " + source, e);
    }
  }

  /**
   * Reads the JSON lines {@code lines} gives from where it stands (see {@link Utf8LineReader#startAt}) with
   * {@code features}, as {@link #read}; {@code sink} gets each row with the reader, which tells the row's line
   * and where the next one starts.
   */
  public static void readLines(Utf8LineReader lines, String source, Features features,
      BiConsumer<Map<String, Object>, Utf8LineReader> sink) {
    eachLine(lines, source, (node, line) -> sink.accept(row(node, line, source, features), lines));
  }

  private static void eachLine(Utf8LineReader lines, String source, RowSink sink) {
    {
      String line;
      while ((line = lines.readLine()) != null) {
        if (line.isBlank()) {
          continue;
        }
        JsonNode node;
        try {
          node = JSON.readTree(line);
        } catch (JsonProcessingException e) {
          JsonLocation at = e.getLocation();
          throw new IllegalArgumentException(source + ": line " + lines.lineNumber()
              + (at != null && at.getColumnNr() > 0 ? ", column " + at.getColumnNr() : "") + ": invalid JSON: "
              + e.getOriginalMessage());
        }
        if (!node.isObject()) {
          throw new IllegalArgumentException(source + ": line " + lines.lineNumber()
              + ": expected a JSON object, found " + node.getNodeType().toString().toLowerCase());
        }
        sink.accept(node, lines.lineNumber());
      }
    }
  }

  private static void forEachInArray(Supplier<InputStream> open, String source, RowSink sink) {
    // Check the encoding first, so that a bad byte is reported with its offset.
    try (Utf8LineReader lines = new Utf8LineReader(open.get(), source)) {
      while (lines.readLine() != null) {
        // reading validates
      }
    }
    try (InputStream in = open.get(); JsonParser p = JSON.getFactory().createParser(in)) {
      long line = 0;
      try {
        if (p.nextToken() != JsonToken.START_ARRAY) {
          throw new IllegalArgumentException(source + ": expected a JSON array");
        }
        JsonToken t;
        while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
          line = p.currentTokenLocation().getLineNr();
          if (t != JsonToken.START_OBJECT) {
            throw new IllegalArgumentException(source + ": line " + line + ": expected a JSON object in the"
                + " array, found " + t);
          }
          sink.accept(JSON.readTree(p), line);
        }
      } catch (JsonProcessingException e) {
        JsonLocation at = e.getLocation();
        throw new IllegalArgumentException(source + ": line " + (at != null ? at.getLineNr() : line)
            + (at != null ? ", column " + at.getColumnNr() : "") + ": invalid JSON: " + e.getOriginalMessage());
      }
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot read " + source, e);
    }
  }

  /** The columns of one file in order of first appearance, typed; null for a column null throughout. */
  public static Map<String, ColumnType> infer(Supplier<InputStream> open, String source) {
    return infer(open, source, Long.MAX_VALUE);
  }

  private static final class EnoughRows extends RuntimeException {
    private static final long serialVersionUID = 1L;

    EnoughRows() {
      super(null, null, false, false);
    }
  }

  /** As {@link #infer(Supplier, String)}, from the first {@code maxRows} rows only. */
  public static Map<String, ColumnType> infer(Supplier<InputStream> open, String source, long maxRows) {
    LinkedHashMap<String, ColumnType> types = new LinkedHashMap<>();
    long[] seen = {0};
    try {
      forEachObject(open, source, (node, line) -> {
        if (seen[0]++ >= maxRows) {
          throw new EnoughRows();
        }
        inferRow(node, line, source, types);
      });
    } catch (EnoughRows e) {
      // inferred from the first rows
    }
    return types;
  }

  private static void inferRow(JsonNode node, long line, String source, LinkedHashMap<String, ColumnType> types) {
    {
      Iterator<Map.Entry<String, JsonNode>> it = node.fields();
      while (it.hasNext()) {
        Map.Entry<String, JsonNode> e = it.next();
        ColumnType t = typeOf(e.getValue(), source, line, e.getKey());
        ColumnType known = types.get(e.getKey());
        if (!types.containsKey(e.getKey()) || known == null) {
          types.put(e.getKey(), t);
        } else if (t != null && t != known) {
          types.put(e.getKey(), merge(known, t, source, line, e.getKey()));
        }
      }
    }
  }

  private static ColumnType merge(ColumnType a, ColumnType b, String source, long line, String key) {
    ColumnType t = join(a, b);
    if (t == null) {
      throw new IllegalArgumentException(source + ": line " + line + ": key '" + key + "' holds a " + b
          + " value where earlier rows hold " + a);
    }
    return t;
  }

  /** The type of a column holding values of two different types, or null when they cannot share one. */
  private static ColumnType join(ColumnType a, ColumnType b) {
    if ((a == ColumnType.INT64 && b == ColumnType.FLOAT64) || (a == ColumnType.FLOAT64 && b == ColumnType.INT64)) {
      return ColumnType.FLOAT64;
    }
    if ((a == ColumnType.INT64_LIST && b == ColumnType.FLOAT64_LIST)
        || (a == ColumnType.FLOAT64_LIST && b == ColumnType.INT64_LIST)) {
      return ColumnType.FLOAT64_LIST;
    }
    // An empty array is typed INT64_LIST: strings in a later row decide the element type.
    if ((a == ColumnType.INT64_LIST && b == ColumnType.STRING_LIST)
        || (a == ColumnType.STRING_LIST && b == ColumnType.INT64_LIST)) {
      return ColumnType.STRING_LIST;
    }
    return null;
  }

  /**
   * The columns of the JSON lines {@code lines} gives from where it stands (see {@link Utf8LineReader#startAt}),
   * typed as {@link #infer} types a file's.
   */
  public static Map<String, ColumnType> inferLines(Utf8LineReader lines, String source) {
    LinkedHashMap<String, ColumnType> types = new LinkedHashMap<>();
    eachLine(lines, source, (node, line) -> inferRow(node, line, source, types));
    return types;
  }

  /**
   * The columns inferred from two consecutive parts of a file, {@code earlier}'s then {@code later}'s, as
   * {@link #infer} would type the two read as one; null where that would fail (a column whose types cannot be
   * joined), so that the caller reads the whole file for its error. Types only ever widen (INT64 to FLOAT64,
   * INT64_LIST to FLOAT64_LIST or STRING_LIST) and a pair with no common type fails in any order, so joining
   * the parts' types gives the types of reading them in turn.
   */
  public static LinkedHashMap<String, ColumnType> concat(Map<String, ColumnType> earlier,
      Map<String, ColumnType> later) {
    LinkedHashMap<String, ColumnType> out = new LinkedHashMap<>(earlier);
    for (Map.Entry<String, ColumnType> e : later.entrySet()) {
      ColumnType known = out.get(e.getKey());
      ColumnType t = e.getValue();
      if (known == null) {
        out.put(e.getKey(), t);
      } else if (t != null && t != known) {
        ColumnType joined = join(known, t);
        if (joined == null) {
          return null;
        }
        out.put(e.getKey(), joined);
      }
    }
    return out;
  }

  /** The type of one JSON value, or null for null (and for an empty array, whose element type is unknown). */
  private static ColumnType typeOf(JsonNode v, String source, long line, String key) {
    if (v.isNull()) {
      return null;
    }
    if (v.isIntegralNumber()) {
      if (!v.canConvertToLong()) {
        throw new IllegalArgumentException(source + ": line " + line + ": key '" + key + "': integer " + v
            + " does not fit in 64 bits");
      }
      return ColumnType.INT64;
    }
    if (v.isNumber()) {
      return ColumnType.FLOAT64;
    }
    if (v.isBoolean()) {
      return ColumnType.BOOL;
    }
    if (v.isTextual()) {
      return ColumnType.STRING;
    }
    if (v.isArray()) {
      if (!v.isEmpty() && allObjects(v)) {
        // A list of records (a chat's messages) is kept as its JSON text, which the reader of the column parses.
        return ColumnType.STRING;
      }
      if (!v.isEmpty() && v.get(0).isTextual()) {
        for (JsonNode item : v) {
          if (!item.isTextual()) {
            throw new IllegalArgumentException(source + ": line " + line + ": key '" + key + "': an array of"
                + " strings holds a " + item.getNodeType().toString().toLowerCase() + "; arrays hold numbers only"
                + " or strings only");
          }
        }
        return ColumnType.STRING_LIST;
      }
      boolean anyFloat = false;
      for (JsonNode item : v) {
        if (!item.isNumber()) {
          throw new IllegalArgumentException(source + ": line " + line + ": key '" + key
              + "': only arrays of numbers or of strings are supported, found "
              + item.getNodeType().toString().toLowerCase());
        }
        anyFloat |= !item.isIntegralNumber();
      }
      // An empty array says nothing about its elements: INT64_LIST, which FLOAT64_LIST values widen.
      return anyFloat ? ColumnType.FLOAT64_LIST : ColumnType.INT64_LIST;
    }
    throw new IllegalArgumentException(source + ": line " + line + ": key '" + key + "' holds a JSON "
        + v.getNodeType().toString().toLowerCase() + "; nested objects are not supported");
  }

  private static boolean allObjects(JsonNode array) {
    for (JsonNode item : array) {
      if (!item.isObject()) {
        return false;
      }
    }
    return true;
  }

  /** Reads every row with {@code features}; keys the features do not name are an error. */
  public static void read(Supplier<InputStream> open, String source, Features features,
      Consumer<Map<String, Object>> sink) {
    forEachObject(open, source, (node, line) -> sink.accept(row(node, line, source, features)));
  }

  private static Map<String, Object> row(JsonNode node, long line, String source, Features features) {
    Map<String, Object> row = new LinkedHashMap<>();
    for (String name : features.names()) {
      row.put(name, null);
    }
    Iterator<Map.Entry<String, JsonNode>> it = node.fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> e = it.next();
      if (!features.contains(e.getKey())) {
        throw new IllegalArgumentException(source + ": line " + line + ": key '" + e.getKey()
            + "' is not among the expected columns " + features.names());
      }
      row.put(e.getKey(), value(e.getValue(), features.type(e.getKey()), source, line, e.getKey()));
    }
    return row;
  }

  private static Object value(JsonNode v, ColumnType type, String source, long line, String key) {
    if (v.isNull()) {
      return null;
    }
    try {
      switch (type) {
        case INT32: return Math.toIntExact(longOf(v));
        case INT64: return longOf(v);
        case FLOAT32: return (float) doubleOf(v);
        case FLOAT64: return doubleOf(v);
        case BOOL:
          if (!v.isBoolean()) {
            throw new IllegalArgumentException();
          }
          return v.booleanValue();
        case STRING:
          if (v.isArray() && !v.isEmpty() && allObjects(v)) {
            return v.toString();
          }
          if (!v.isTextual()) {
            throw new IllegalArgumentException();
          }
          return v.textValue();
        default:
          if (!v.isArray()) {
            throw new IllegalArgumentException();
          }
          List<Object> items = new ArrayList<>();
          for (JsonNode item : v) {
            items.add(value(item, type.elementType(), source, line, key));
          }
          return items;
      }
    } catch (IllegalArgumentException | ArithmeticException e) {
      throw new IllegalArgumentException(source + ": line " + line + ": key '" + key + "': " + v
          + " is not a valid " + type);
    }
  }

  private static long longOf(JsonNode v) {
    if (!v.isIntegralNumber() || !v.canConvertToLong()) {
      throw new IllegalArgumentException();
    }
    return v.longValue();
  }

  private static double doubleOf(JsonNode v) {
    if (!v.isNumber()) {
      throw new IllegalArgumentException();
    }
    return v.doubleValue();
  }
}
