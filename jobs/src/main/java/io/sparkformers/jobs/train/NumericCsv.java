package io.sparkformers.jobs.train;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPInputStream;

/**
 * A CSV file of numbers (optionally gzip-compressed, optionally with a header row): feature columns as float32
 * and one integer label column. Errors name the file, line and column and what was expected.
 */
public final class NumericCsv {
  private NumericCsv() {}

  /** The rows read: features row-major ({@code width} per row) and labels. */
  public record Table(float[] features, int width, long[] labels, List<String> featureNames) {
    public int rows() {
      return labels.length;
    }
  }

  /** Opens a local path, or a resource on the class path with {@code classpath:/...}. */
  static InputStream open(String location) throws IOException {
    InputStream in;
    if (location.startsWith("classpath:")) {
      in = NumericCsv.class.getResourceAsStream(location.substring("classpath:".length()));
      if (in == null) {
        throw new IOException(location + ": no such resource on the class path");
      }
    } else {
      Path p = Path.of(location);
      if (!Files.isRegularFile(p)) {
        throw new IOException(location + ": no such file (resolved to " + p.toAbsolutePath() + ")");
      }
      in = Files.newInputStream(p);
    }
    return location.endsWith(".gz") ? new GZIPInputStream(in) : in;
  }

  /**
   * Reads the table.
   *
   * @param labelColumn the label column's name (with a header) or 0-based index (without; negative counts
   *     from the end)
   * @param featureColumns the feature columns (names or indices), or empty for every column but the label
   * @param scale every feature is multiplied by it
   */
  public static Table read(String location, boolean header, String labelColumn, List<String> featureColumns,
      float scale) throws IOException {
    List<float[]> rows = new ArrayList<>();
    List<Long> labels = new ArrayList<>();
    List<String> names = new ArrayList<>();
    int labelIndex = -1;
    int[] featureIndex = null;
    try (BufferedReader r = new BufferedReader(new InputStreamReader(open(location), StandardCharsets.UTF_8))) {
      String line;
      int lineNo = 0;
      int columns = -1;
      while ((line = r.readLine()) != null) {
        lineNo++;
        if (line.isBlank()) {
          continue;
        }
        String[] cells = line.split(",", -1);
        if (columns < 0) {
          columns = cells.length;
          List<String> header0 = new ArrayList<>();
          for (int c = 0; c < columns; c++) {
            header0.add(header ? cells[c].trim() : Integer.toString(c));
          }
          labelIndex = column(location, header0, labelColumn, "label_column");
          List<Integer> fi = new ArrayList<>();
          if (featureColumns.isEmpty()) {
            for (int c = 0; c < columns; c++) {
              if (c != labelIndex) {
                fi.add(c);
              }
            }
          } else {
            for (String f : featureColumns) {
              fi.add(column(location, header0, f, "feature_columns"));
            }
          }
          featureIndex = fi.stream().mapToInt(Integer::intValue).toArray();
          for (int c : featureIndex) {
            names.add(header0.get(c));
          }
          if (header) {
            continue;
          }
        }
        if (cells.length != columns) {
          throw new IllegalArgumentException(location + " line " + lineNo + ": expected " + columns
              + " columns, found " + cells.length);
        }
        float[] f = new float[featureIndex.length];
        for (int i = 0; i < featureIndex.length; i++) {
          f[i] = parseFloat(location, lineNo, featureIndex[i], cells[featureIndex[i]]) * scale;
        }
        rows.add(f);
        labels.add(parseLabel(location, lineNo, labelIndex, cells[labelIndex]));
      }
    }
    if (rows.isEmpty()) {
      throw new IllegalArgumentException(location + ": no data rows");
    }
    int width = featureIndex.length;
    float[] features = new float[rows.size() * width];
    long[] labelArray = new long[rows.size()];
    for (int i = 0; i < rows.size(); i++) {
      System.arraycopy(rows.get(i), 0, features, i * width, width);
      labelArray[i] = labels.get(i);
    }
    return new Table(features, width, labelArray, names);
  }

  private static int column(String location, List<String> header, String wanted, String key) {
    int i = header.indexOf(wanted);
    if (i >= 0) {
      return i;
    }
    try {
      int idx = Integer.parseInt(wanted.trim());
      int resolved = idx < 0 ? header.size() + idx : idx;
      if (resolved >= 0 && resolved < header.size()) {
        return resolved;
      }
    } catch (NumberFormatException e) {
      // not an index: fall through to the error
    }
    throw new IllegalArgumentException(location + ": " + key + " '" + wanted + "' is not a column; the columns"
        + " are " + header);
  }

  private static float parseFloat(String location, int line, int column, String cell) {
    try {
      return Float.parseFloat(cell.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(location + " line " + line + " column " + (column + 1)
          + ": expected a number, found '" + cell + "'");
    }
  }

  private static long parseLabel(String location, int line, int column, String cell) {
    String s = cell.trim();
    try {
      double d = Double.parseDouble(s);
      if (d != Math.rint(d) || d < 0) {
        throw new NumberFormatException();
      }
      return (long) d;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(location + " line " + line + " column " + (column + 1)
          + ": expected a class id (an integer >= 0), found '" + cell + "'");
    }
  }
}
