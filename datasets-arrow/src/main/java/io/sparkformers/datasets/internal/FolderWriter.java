package io.sparkformers.datasets.internal;

import io.sparkformers.datasets.ColumnType;
import io.sparkformers.datasets.Features;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes rows given as maps into a dataset folder (one Arrow file and {@code state.json}). Without given
 * features, the column types are inferred from the first non-null value of each column: rows are held back
 * until every column's type is known (a column that stays null throughout becomes STRING).
 */
public final class FolderWriter implements AutoCloseable {
  private final Path folder;
  private final int batchRows;
  private Features features;
  private final LinkedHashMap<String, ColumnType> inferred = new LinkedHashMap<>();
  private final List<Map<String, Object>> pending = new ArrayList<>();
  private ArrowShardWriter writer;

  public FolderWriter(Path folder, Features features) {
    this(folder, features, ArrowShardWriter.DEFAULT_BATCH_ROWS);
  }

  public FolderWriter(Path folder, Features features, int batchRows) {
    this.folder = folder;
    this.features = features;
    this.batchRows = batchRows;
    if (features != null) {
      open();
    }
  }

  /** Declares a column (and its place in the column order) before rows arrive; the type may be null. */
  public void declare(String column, ColumnType type) {
    if (features == null && (!inferred.containsKey(column) || inferred.get(column) == null)) {
      inferred.put(column, type);
    }
  }

  private void open() {
    writer = new ArrowShardWriter(folder.resolve(DatasetFolder.fileName(0, 1)), features, batchRows);
  }

  public void write(Map<String, Object> row) {
    if (writer == null) {
      for (Map.Entry<String, Object> e : row.entrySet()) {
        ColumnType known = inferred.get(e.getKey());
        ColumnType t = ArrowValues.inferType(e.getValue());
        if (known == null) {
          inferred.put(e.getKey(), t);
        } else if (t != null && t != known) {
          inferred.put(e.getKey(), widen(known, t, e.getKey()));
        }
      }
      pending.add(row);
      if (!inferred.containsValue(null) || pending.size() >= 100_000) {
        fixTypes();
      }
      return;
    }
    writeNow(row);
  }

  /** Two types seen in one column: ints widen to floats, otherwise it is an error naming both. */
  private static ColumnType widen(ColumnType a, ColumnType b, String column) {
    List<ColumnType> numeric = List.of(ColumnType.INT32, ColumnType.INT64, ColumnType.FLOAT32, ColumnType.FLOAT64);
    if (numeric.contains(a) && numeric.contains(b)) {
      return numeric.get(Math.max(numeric.indexOf(a), numeric.indexOf(b)));
    }
    if ((a == ColumnType.STRING_LIST) != (b == ColumnType.STRING_LIST)) {
      throw new IllegalArgumentException("Column '" + column + "' holds both " + a + " and " + b + " values");
    }
    if (a.isList() && b.isList() && a != b) {
      return a == ColumnType.FLOAT64_LIST || b == ColumnType.FLOAT64_LIST ? ColumnType.FLOAT64_LIST
          : ColumnType.FLOAT32_LIST;
    }
    throw new IllegalArgumentException("Column '" + column + "' holds both " + a + " and " + b + " values");
  }

  private void fixTypes() {
    Features.Builder b = Features.builder();
    inferred.forEach((n, t) -> b.add(n, t == null ? ColumnType.STRING : t));
    features = b.build();
    open();
    for (Map<String, Object> row : pending) {
      writeNow(row);
    }
    pending.clear();
  }

  private void writeNow(Map<String, Object> row) {
    writer.write(row);
  }

  /** Commits the Arrow file and writes {@code state.json}; returns what it wrote. */
  public DatasetFolder.State finish(String fingerprint) {
    if (writer == null) {
      fixTypes();
    }
    writer.commit();
    DatasetFolder.State state = new DatasetFolder.State(fingerprint, features, writer.rows(),
        List.of(DatasetFolder.fileName(0, 1)));
    DatasetFolder.write(folder, state);
    return state;
  }

  public Features features() {
    return features;
  }

  @Override
  public void close() {
    if (writer != null) {
      writer.close();
    }
  }

  /** Keeps only the keys of {@code columns}, in that order. */
  public static Map<String, Object> project(Map<String, Object> row, List<String> columns) {
    Map<String, Object> out = new LinkedHashMap<>();
    for (String c : columns) {
      out.put(c, row.get(c));
    }
    return out;
  }
}
