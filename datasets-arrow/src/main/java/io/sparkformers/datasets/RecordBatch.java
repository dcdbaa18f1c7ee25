package io.sparkformers.datasets;

import io.sparkformers.datasets.internal.ArrowValues;
import java.nio.IntBuffer;
import io.sparkformers.datasets.internal.ArrowTable;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.ListVector;

/**
 * One Arrow record batch of a {@link Dataset}, zero copy: valid while the dataset is open. The
 * {@code int32List...} views read token ids straight from the memory-mapped file.
 */
public final class RecordBatch {
  private final VectorSchemaRoot root;
  private final int[] columnSources;
  private final Features features;
  private final ArrowTable table;

  RecordBatch(VectorSchemaRoot root, int[] columnSources, Features features, ArrowTable table) {
    this.table = table;
    this.root = root;
    this.columnSources = columnSources;
    this.features = features;
  }

  public int numRows() {
    return root.getRowCount();
  }

  public Features features() {
    return features;
  }

  public Object get(int row, String column) {
    return ArrowValues.get(vector(column), features.type(column), row);
  }

  /** The Arrow vector of a column (its Arrow name may differ after a rename). */
  public FieldVector vector(String column) {
    return root.getFieldVectors().get(columnSources[features.indexOf(column)]);
  }

  /** All elements of an INT32_LIST column, row after row, as one view of the mapped memory. */
  public IntBuffer int32ListValues(String column) {
    ListVector list = int32List(column);
    int count = list.getValueCount() == 0 ? 0 : list.getElementEndIndex(list.getValueCount() - 1);
    FieldVector data = list.getDataVector();
    return view(data.getDataBuffer().memoryAddress(), count);
  }

  /** {@code numRows + 1} offsets into {@link #int32ListValues}: row r is [offsets[r], offsets[r + 1]). */
  public IntBuffer int32ListOffsets(String column) {
    ListVector list = int32List(column);
    return view(list.getOffsetBuffer().memoryAddress(), list.getValueCount() == 0 ? 0 : list.getValueCount() + 1);
  }

  private ListVector int32List(String column) {
    if (features.type(column) != ColumnType.INT32_LIST) {
      throw new IllegalArgumentException("Column '" + column + "' is " + features.type(column)
          + ", not INT32_LIST");
    }
    return (ListVector) vector(column);
  }

  private IntBuffer view(long address, int ints) {
    if (ints == 0) {
      return IntBuffer.allocate(0);
    }
    // A slice of the file's mapping, so that the view keeps the mapping alive while it is used.
    return table.view(address, ints * 4).asIntBuffer();
  }

  /** The underlying Arrow batch, with the physical column names. */
  public VectorSchemaRoot arrow() {
    return root;
  }
}
