package io.sparkformers.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.sparkformers.datasets.ColumnType;
import io.sparkformers.datasets.Dataset;
import io.sparkformers.datasets.RecordBatch;
import io.sparkformers.training.internal.Views;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.complex.ListVector;

/**
 * A {@link Dataset}'s columns as the Trainer's batches, read straight from its Arrow record batches into each
 * batch tensor's own memory: no per-row Java object on the way. Integer columns become int64 tensors, float
 * columns float32 ones; a scalar column gives [rows], a list column [rows, width] (every row of a list column
 * must have the same length: pad or group the texts first). Only the columns asked for are read, as
 * transformers' Trainer drops the columns its model does not take. A dataset read through an indices mapping
 * (after shuffle, select, split ...) is first written out contiguously once ({@link Dataset#flattenIndices()}).
 * Close it to release that copy; the dataset itself stays the caller's.
 */
public final class DatasetTrainingData implements TrainingData, AutoCloseable {
  /** The optional inputs transformers' models take besides their required ones, kept when present. */
  public static final List<String> OPTIONAL_INPUTS =
      List.of("labels", "attention_mask", "token_type_ids", "position_ids");

  private final Dataset flattened; // owned, when the given dataset had an indices mapping
  private final List<RecordBatch> batches;
  private final long[] batchStarts;
  private final long rows;
  private final Map<String, Column> columns = new LinkedHashMap<>();

  private record Column(String name, ColumnType type, int width) {
    boolean isList() {
      return type.name().endsWith("_LIST");
    }

    boolean isFloat() {
      return type.name().startsWith("FLOAT");
    }
  }

  /**
   * Reads {@code required} (each must exist) and any of {@code optional} the dataset has.
   *
   * @throws IllegalArgumentException naming a missing column, an unsupported type, or a list column whose
   *     rows differ in length
   */
  public DatasetTrainingData(Dataset dataset, Collection<String> required, Collection<String> optional) {
    List<String> missing = new ArrayList<>();
    for (String c : required) {
      if (!dataset.columnNames().contains(c)) {
        missing.add(c);
      }
    }
    if (!missing.isEmpty()) {
      throw new IllegalArgumentException("the dataset lacks the column(s) " + missing + " the model needs; it has "
          + dataset.columnNames());
    }
    this.flattened = dataset.hasIndicesMapping() ? dataset.flattenIndices() : null;
    Dataset source = flattened != null ? flattened : dataset;
    try {
      this.rows = source.numRows();
      this.batches = source.recordBatches();
      this.batchStarts = new long[batches.size() + 1];
      for (int b = 0; b < batches.size(); b++) {
        batchStarts[b + 1] = batchStarts[b] + batches.get(b).numRows();
      }
      Set<String> wanted = new LinkedHashSet<>(required);
      optional.stream().filter(source.columnNames()::contains).forEach(wanted::add);
      for (String name : wanted) {
        ColumnType type = source.features().type(name);
        if (type == ColumnType.STRING || type == ColumnType.STRING_LIST || type == ColumnType.BOOL) {
          throw new IllegalArgumentException("column '" + name + "' holds " + type + " values: the Trainer takes"
              + " numbers or lists of numbers (tokenize text columns first)");
        }
        Column c = new Column(name, type, 1);
        columns.put(name, c.isList() ? new Column(name, type, listWidth(name)) : c);
      }
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  /** The width every row of a list column shares, checked on the offsets alone. */
  private int listWidth(String name) {
    int width = -1;
    for (int b = 0; b < batches.size(); b++) {
      ListVector list = (ListVector) batches.get(b).vector(name);
      for (int r = 0; r < list.getValueCount(); r++) {
        if (list.isNull(r)) {
          throw new IllegalArgumentException("column '" + name + "', row " + (batchStarts[b] + r) + " is null");
        }
        int w = list.getElementEndIndex(r) - list.getElementStartIndex(r);
        if (width < 0) {
          width = w;
        } else if (w != width) {
          throw new IllegalArgumentException("column '" + name + "': row " + (batchStarts[b] + r) + " has " + w
              + " values, row 0 has " + width + ": rows of a batch must be as long (pad them to one length,"
              + " or group the texts into blocks)");
        }
      }
    }
    return Math.max(width, 0);
  }

  @Override
  public long numRows() {
    return rows;
  }

  @Override
  public Set<String> columns() {
    return Collections.unmodifiableSet(columns.keySet());
  }

  @Override
  public Map<String, NDArray> batch(NDManager manager, long[] rowIds) {
    Map<String, NDArray> out = new LinkedHashMap<>();
    int n = rowIds.length;
    // Rows are written in host memory and, for a GPU manager, copied to the device once per batch.
    NDManager host = Views.hostManager(manager);
    try {
      for (Column c : columns.values()) {
        Shape shape = c.isList() ? new Shape(n, c.width()) : new Shape(n);
        NDArray t = host.create(shape, c.isFloat() ? DataType.FLOAT32 : DataType.INT64);
        if (n > 0 && c.width() > 0) {
          fill(c, rowIds, Views.view(t));
        }
        out.put(c.name(), Views.moveTo(t, manager));
      }
    } finally {
      if (host != manager) {
        host.close();
      }
    }
    return out;
  }

  /** Writes the rows' values of one column, row after row, into a tensor's memory. */
  private void fill(Column c, long[] rowIds, ByteBuffer dst) {
    int at = 0;
    for (long row : rowIds) {
      if (row < 0 || row >= rows) {
        throw new IndexOutOfBoundsException("row " + row + " of a dataset of " + rows + " rows");
      }
      int b = batchOf(row);
      int r = (int) (row - batchStarts[b]);
      FieldVector v = batches.get(b).vector(c.name());
      FieldVector values = v;
      int first = r;
      if (c.isList()) {
        ListVector list = (ListVector) v;
        values = list.getDataVector();
        first = list.getElementStartIndex(r);
      } else if (v.isNull(r)) {
        throw new IllegalArgumentException("column '" + c.name() + "', row " + row + " is null");
      }
      for (int k = 0; k < c.width(); k++, at++) {
        int i = first + k;
        switch (c.type()) {
          case INT32, INT32_LIST -> dst.putLong(at * 8, ((IntVector) values).get(i));
          case INT64, INT64_LIST -> dst.putLong(at * 8, ((BigIntVector) values).get(i));
          case FLOAT32, FLOAT32_LIST -> dst.putFloat(at * 4, ((Float4Vector) values).get(i));
          case FLOAT64, FLOAT64_LIST -> dst.putFloat(at * 4, (float) ((Float8Vector) values).get(i));
          default -> throw new IllegalStateException("unexpected column type " + c.type());
        }
      }
    }
  }

  private int batchOf(long row) {
    int lo = 0;
    int hi = batches.size() - 1;
    while (lo < hi) {
      int mid = (lo + hi + 1) >>> 1;
      if (batchStarts[mid] <= row) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    return lo;
  }

  @Override
  public void close() {
    if (flattened != null) {
      flattened.close();
    }
  }
}
