package io.sparkformers.jobs.train;

import io.sparkformers.training.ArrayData;
import java.io.Serializable;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Rows prepared in the driver (fixed-width float and int64 columns under the model's input names): every task
 * without {@code data.use_spark}, and the reference the Spark-made rows are tested against. The train job
 * turns them into rows dealt to the ranks ({@link RankShards#fromDriver}). Immutable.
 */
public final class TensorColumns implements Serializable {
  private static final long serialVersionUID = 1L;
  private final long rows;
  private final Map<String, float[]> floats;
  private final Map<String, long[]> longs;
  private final Map<String, Integer> widths;

  private TensorColumns(long rows, Map<String, float[]> floats, Map<String, long[]> longs,
      Map<String, Integer> widths) {
    this.rows = rows;
    this.floats = Collections.unmodifiableMap(new LinkedHashMap<>(floats));
    this.longs = Collections.unmodifiableMap(new LinkedHashMap<>(longs));
    this.widths = Collections.unmodifiableMap(new LinkedHashMap<>(widths));
  }

  public long rows() {
    return rows;
  }

  /** Column name to values per row. */
  public Map<String, Integer> widths() {
    return widths;
  }

  public float[] floatColumn(String name) {
    return floats.get(name);
  }

  public long[] longColumn(String name) {
    return longs.get(name);
  }

  /** The rows as the Trainer's {@link ArrayData} (the arrays are shared, not copied). */
  public ArrayData toArrayData() {
    ArrayData.Builder b = ArrayData.builder();
    widths.forEach((name, w) -> {
      if (floats.containsKey(name)) {
        b.floats(name, floats.get(name), w);
      } else {
        b.longs(name, longs.get(name), w);
      }
    });
    return b.build();
  }

  static Builder builder(long rows) {
    return new Builder(rows);
  }

  /** Collects columns of {@code rows} rows each. */
  static final class Builder {
    private final long rows;
    private final Map<String, float[]> floats = new LinkedHashMap<>();
    private final Map<String, long[]> longs = new LinkedHashMap<>();
    private final Map<String, Integer> widths = new LinkedHashMap<>();

    private Builder(long rows) {
      this.rows = rows;
    }

    Builder floats(String name, float[] values, int width) {
      check(name, values.length, width);
      floats.put(name, values);
      return this;
    }

    Builder longs(String name, long[] values, int width) {
      check(name, values.length, width);
      longs.put(name, values);
      return this;
    }

    private void check(String name, int length, int width) {
      if ((long) width * rows != length) {
        throw new IllegalStateException("column " + name + ": " + length + " values for " + rows + " rows of "
            + width);
      }
      widths.put(name, width);
    }

    TensorColumns build() {
      return new TensorColumns(rows, floats, longs, widths);
    }
  }
}
