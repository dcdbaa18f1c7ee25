package io.sparkformers.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.sparkformers.training.internal.Views;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * {@link TrainingData} held in Java arrays: float columns of fixed width (features) and integer columns
 * (labels, token ids) of fixed width. Immutable; build with {@link #builder()}.
 */
public final class ArrayData implements TrainingData {
  private final long rows;
  private final Map<String, float[]> floats;
  private final Map<String, long[]> longs;
  private final Map<String, Integer> widths;

  private ArrayData(Builder b) {
    this.rows = b.rows;
    this.floats = Collections.unmodifiableMap(new LinkedHashMap<>(b.floats));
    this.longs = Collections.unmodifiableMap(new LinkedHashMap<>(b.longs));
    this.widths = Collections.unmodifiableMap(new LinkedHashMap<>(b.widths));
  }

  public static Builder builder() {
    return new Builder();
  }

  @Override
  public long numRows() {
    return rows;
  }

  @Override
  public Set<String> columns() {
    return widths.keySet();
  }

  /** The values of a float column (row-major, {@code width} per row); shared, do not modify. */
  public float[] floatColumn(String name) {
    return floats.get(name);
  }

  /** The values of an integer column (row-major); shared, do not modify. */
  public long[] longColumn(String name) {
    return longs.get(name);
  }

  /** Rows {@code [from, to)} as a new ArrayData. */
  public ArrayData slice(long from, long to) {
    Builder b = builder();
    int n = (int) (to - from);
    for (Map.Entry<String, Integer> e : widths.entrySet()) {
      int w = e.getValue();
      if (floats.containsKey(e.getKey())) {
        float[] v = new float[n * w];
        System.arraycopy(floats.get(e.getKey()), (int) from * w, v, 0, n * w);
        b.floats(e.getKey(), v, w);
      } else {
        long[] v = new long[n * w];
        System.arraycopy(longs.get(e.getKey()), (int) from * w, v, 0, n * w);
        b.longs(e.getKey(), v, w);
      }
    }
    return b.build();
  }

  @Override
  public Map<String, NDArray> batch(NDManager manager, long[] rowIds) {
    Map<String, NDArray> out = new LinkedHashMap<>();
    int n = rowIds.length;
    // Rows are written in host memory and, for a GPU manager, copied to the device once per batch.
    NDManager host = Views.hostManager(manager);
    try {
      fill(host, manager, rowIds, out);
    } finally {
      if (host != manager) {
        host.close();
      }
    }
    return out;
  }

  private void fill(NDManager host, NDManager manager, long[] rowIds, Map<String, NDArray> out) {
    int n = rowIds.length;
    for (Map.Entry<String, Integer> e : widths.entrySet()) {
      int w = e.getValue();
      Shape shape = w == 1 && longs.containsKey(e.getKey()) ? new Shape(n) : new Shape(n, w);
      // Rows go straight into the new tensor's own memory: no Java array or direct buffer in between.
      if (floats.containsKey(e.getKey())) {
        float[] src = floats.get(e.getKey());
        NDArray t = host.create(shape, DataType.FLOAT32);
        FloatBuffer dst = n == 0 ? null : Views.view(t).asFloatBuffer(); // an empty tensor has no memory to view
        for (int i = 0; i < n; i++) {
          dst.put(i * w, src, (int) rowIds[i] * w, w);
        }
        out.put(e.getKey(), Views.moveTo(t, manager));
      } else {
        long[] src = longs.get(e.getKey());
        NDArray t = host.create(shape, DataType.INT64);
        LongBuffer dst = n == 0 ? null : Views.view(t).asLongBuffer();
        for (int i = 0; i < n; i++) {
          dst.put(i * w, src, (int) rowIds[i] * w, w);
        }
        out.put(e.getKey(), Views.moveTo(t, manager));
      }
    }
  }

  /** Builds an {@link ArrayData}; every column must have the same number of rows. */
  public static final class Builder {
    private long rows = -1;
    private final Map<String, float[]> floats = new LinkedHashMap<>();
    private final Map<String, long[]> longs = new LinkedHashMap<>();
    private final Map<String, Integer> widths = new LinkedHashMap<>();

    private Builder() {}

    /** A float32 column of {@code width} values per row (a width-1 column is still 2-D: (n, 1)). */
    public Builder floats(String name, float[] values, int width) {
      check(name, values.length, width);
      floats.put(name, values);
      return this;
    }

    /** An int64 column; width 1 gives a 1-D tensor per batch (class labels), more a 2-D one (token ids). */
    public Builder longs(String name, long[] values, int width) {
      check(name, values.length, width);
      longs.put(name, values);
      return this;
    }

    private void check(String name, int length, int width) {
      if (width <= 0 || length % width != 0) {
        throw new IllegalArgumentException("column '" + name + "': " + length + " values are not rows of "
            + width);
      }
      long n = length / width;
      if (rows >= 0 && n != rows) {
        throw new IllegalArgumentException("column '" + name + "' has " + n + " rows, the others " + rows);
      }
      if (widths.containsKey(name)) {
        throw new IllegalArgumentException("column '" + name + "' given twice");
      }
      rows = n;
      widths.put(name, width);
    }

    public ArrayData build() {
      if (widths.isEmpty()) {
        throw new IllegalArgumentException("ArrayData needs at least one column");
      }
      return new ArrayData(this);
    }
  }
}
