package io.sparkformers.datasets.internal;

import io.sparkformers.datasets.ColumnType;
import io.sparkformers.datasets.Features;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * CSV as Hugging Face reads it (through pandas' {@code read_csv} defaults): a header row, fields separated
 * by the delimiter, quoted fields with doubled quotes inside and line breaks allowed, blank lines skipped,
 * pandas' missing-value spellings ("", "NA", "null", "NaN", ...) read as null, and types inferred per column:
 * all integers → INT64 (FLOAT64 when some are missing, as pandas does), all numbers → FLOAT64,
 * all True/False → BOOL, else STRING.
 */
public final class CsvReader {
  /** pandas' default na_values. */
  private static final Set<String> NA = Set.of("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN",
      "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null");
  private static final Pattern INT = Pattern.compile("[+-]?\\d+");
  private static final Pattern FLOAT = Pattern.compile(
      "[+-]?(\\d+\\.?\\d*([eE][+-]?\\d+)?|\\.\\d+([eE][+-]?\\d+)?|(?i:inf|infinity))");
  private static final Set<String> TRUE = Set.of("True", "TRUE", "true");
  private static final Set<String> FALSE = Set.of("False", "FALSE", "false");

  private final char delimiter;
  private final char quote;
  private final boolean header;
  private final List<String> givenNames;

  public CsvReader(char delimiter, char quote, boolean header, List<String> givenNames) {
    this.delimiter = delimiter;
    this.quote = quote;
    this.header = header;
    this.givenNames = givenNames;
  }

  /** One parsed record and the line it started on. */
  private record Record(List<String> fields, long line) {}

  private static final class Parser {
    private final Utf8LineReader lines;
    private final char delimiter;
    private final char quote;

    Parser(Utf8LineReader lines, char delimiter, char quote) {
      this.lines = lines;
      this.delimiter = delimiter;
      this.quote = quote;
    }

    /** The next non-blank record, or null at the end. */
    Record next() {
      String line;
      do {
        line = lines.readLine();
        if (line == null) {
          return null;
        }
      } while (line.isEmpty());
      long startLine = lines.lineNumber();
      List<String> fields = new ArrayList<>();
      StringBuilder field = new StringBuilder();
      int i = 0;
      boolean quoted = false;
      boolean wasQuoted = false;
      while (true) {
        if (i == line.length()) {
          if (quoted) {
            String more = lines.readLine();
            if (more == null) {
              throw new IllegalArgumentException(lines.source() + ": line " + startLine
                  + ": a quoted field is not closed before the end of the file");
            }
            field.append('\n');
            line = more;
            i = 0;
            continue;
          }
          fields.add(wasQuoted || field.length() > 0 ? field.toString() : "");
          return new Record(fields, startLine);
        }
        char c = line.charAt(i);
        if (quoted) {
          if (c == quote) {
            if (i + 1 < line.length() && line.charAt(i + 1) == quote) {
              field.append(quote);
              i += 2;
              continue;
            }
            quoted = false;
          } else {
            field.append(c);
          }
        } else if (c == quote && field.length() == 0 && !wasQuoted) {
          quoted = true;
          wasQuoted = true;
        } else if (c == delimiter) {
          fields.add(field.toString());
          field.setLength(0);
          wasQuoted = false;
        } else {
          field.append(c);
        }
        i++;
      }
    }
  }

  private List<String> names(Record first, String source) {
    List<String> names = new ArrayList<>();
    if (header) {
      names.addAll(first.fields());
      for (int i = 0; i < names.size(); i++) {
        if (names.indexOf(names.get(i)) != i) {
          throw new IllegalArgumentException(source + ": line " + first.line() + ": column '" + names.get(i)
              + "' is named twice in the header");
        }
      }
    } else if (givenNames != null) {
      names.addAll(givenNames);
    } else {
      for (int i = 0; i < first.fields().size(); i++) {
        names.add("column_" + i);
      }
    }
    return names;
  }

  /** The column names and inferred types of one file; an empty file gives no columns. */
  public Features infer(Utf8LineReader lines) {
    Parser p = new Parser(lines, delimiter, quote);
    Record first = p.next();
    if (first == null) {
      return Features.empty();
    }
    List<String> names = names(first, lines.source());
    int n = names.size();
    boolean[] allInt = new boolean[n];
    boolean[] allFloat = new boolean[n];
    boolean[] allBool = new boolean[n];
    boolean[] anyNull = new boolean[n];
    boolean[] anyValue = new boolean[n];
    java.util.Arrays.fill(allInt, true);
    java.util.Arrays.fill(allFloat, true);
    java.util.Arrays.fill(allBool, true);
    Record r = header ? p.next() : first;
    while (r != null) {
      List<String> f = checkWidth(r, n, lines.source());
      for (int c = 0; c < n; c++) {
        String v = c < f.size() ? f.get(c) : "";
        if (NA.contains(v)) {
          anyNull[c] = true;
          continue;
        }
        anyValue[c] = true;
        if (allInt[c] && !isLong(v)) {
          allInt[c] = false;
        }
        if (allFloat[c] && !FLOAT.matcher(v).matches()) {
          allFloat[c] = false;
        }
        if (allBool[c] && !TRUE.contains(v) && !FALSE.contains(v)) {
          allBool[c] = false;
        }
      }
      r = p.next();
    }
    Features.Builder b = Features.builder();
    for (int c = 0; c < n; c++) {
      ColumnType t;
      if (!anyValue[c]) {
        t = ColumnType.FLOAT64; // pandas: a column of only missing values is float64 NaN
      } else if (allInt[c]) {
        t = anyNull[c] ? ColumnType.FLOAT64 : ColumnType.INT64;
      } else if (allFloat[c]) {
        t = ColumnType.FLOAT64;
      } else if (allBool[c]) {
        t = ColumnType.BOOL;
      } else {
        t = ColumnType.STRING;
      }
      b.add(names.get(c), t);
    }
    return b.build();
  }

  private static boolean isLong(String v) {
    if (!INT.matcher(v).matches()) {
      return false;
    }
    try {
      Long.parseLong(v.startsWith("+") ? v.substring(1) : v);
      return true;
    } catch (NumberFormatException e) {
      return false;
    }
  }

  private static List<String> checkWidth(Record r, int n, String source) {
    if (r.fields().size() > n) {
      throw new IllegalArgumentException(source + ": line " + r.line() + ": expected " + n
          + " fields (as in the header), found " + r.fields().size());
    }
    return r.fields();
  }

  /** Reads every row with {@code features} (names in file order), converting each field to its type. */
  public void read(Utf8LineReader lines, Features features, Consumer<Map<String, Object>> sink) {
    Parser p = new Parser(lines, delimiter, quote);
    Record first = p.next();
    if (first == null) {
      return;
    }
    List<String> names = names(first, lines.source());
    for (String name : names) {
      if (!features.contains(name)) {
        throw new IllegalArgumentException(lines.source() + ": line " + first.line() + ": column '" + name
            + "' is not among the expected columns " + features.names());
      }
    }
    ColumnType[] types = new ColumnType[names.size()];
    for (int c = 0; c < types.length; c++) {
      types[c] = features.type(names.get(c));
    }
    Record r = header ? p.next() : first;
    while (r != null) {
      List<String> f = checkWidth(r, names.size(), lines.source());
      Map<String, Object> row = new LinkedHashMap<>();
      for (String name : features.names()) {
        row.put(name, null);
      }
      for (int c = 0; c < names.size(); c++) {
        String v = c < f.size() ? f.get(c) : "";
        row.put(names.get(c), convert(v, types[c], lines.source(), r.line(), names.get(c)));
      }
      sink.accept(row);
      r = p.next();
    }
  }

  private static Object convert(String v, ColumnType type, String source, long line, String column) {
    if (type != ColumnType.STRING && NA.contains(v)) {
      return null;
    }
    if (type == ColumnType.STRING) {
      return NA.contains(v) ? null : v;
    }
    try {
      switch (type) {
        case INT32: return Integer.parseInt(v.startsWith("+") ? v.substring(1) : v);
        case INT64: return Long.parseLong(v.startsWith("+") ? v.substring(1) : v);
        case FLOAT32: return (float) parseDouble(v);
        case FLOAT64: return parseDouble(v);
        case BOOL:
          if (TRUE.contains(v)) {
            return true;
          }
          if (FALSE.contains(v)) {
            return false;
          }
          throw new NumberFormatException();
        default:
          throw new IllegalArgumentException(source + ": column '" + column + "' is " + type
              + ", which CSV files cannot hold");
      }
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(source + ": line " + line + ": column '" + column + "': '" + v
          + "' is not a valid " + type);
    }
  }

  private static double parseDouble(String v) {
    if (!FLOAT.matcher(v).matches()) {
      throw new NumberFormatException(v);
    }
    String s = v.toLowerCase(java.util.Locale.ROOT);
    if (s.endsWith("inf") || s.endsWith("infinity")) {
      return s.startsWith("-") ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
    }
    return Double.parseDouble(v);
  }
}
