package io.sparkformers.datasets;

import io.sparkformers.datasets.internal.ArrowShardWriter;
import io.sparkformers.datasets.internal.CacheDirectory;
import io.sparkformers.datasets.internal.DatasetFolder;
import io.sparkformers.datasets.internal.Fingerprint;
import java.nio.file.Path;
import java.util.List;

/**
 * Writes rows, as they come, into a dataset folder of one Arrow IPC file, and opens it memory-mapped: how a
 * task spills its partition to local disk once and then reads it every epoch without holding the rows on the
 * Java heap. The Arrow file is written under a temporary name and renamed by {@link #commit}; closing without
 * a commit deletes what was written.
 */
public final class ShardWriter implements AutoCloseable {
  private final Path folder;
  private final Features features;
  private final ArrowShardWriter writer;
  private boolean committed;

  private ShardWriter(Path folder, Features features, int batchRows) {
    this.folder = folder;
    this.features = features;
    this.writer = new ArrowShardWriter(folder.resolve(DatasetFolder.fileName(0, 1)), features, batchRows);
  }

  /** A writer of rows with {@code features} into {@code folder} (created when missing). */
  public static ShardWriter create(Path folder, Features features) {
    return new ShardWriter(folder, features, ArrowShardWriter.DEFAULT_BATCH_ROWS);
  }

  /**
   * A writer whose file holds record batches of {@code batchRows} rows each (the last one shorter), so that a
   * reader can fetch the batches holding the rows it needs by their byte ranges.
   */
  public static ShardWriter create(Path folder, Features features, int batchRows) {
    if (batchRows < 1) {
      throw new IllegalArgumentException("batchRows must be at least 1, got " + batchRows);
    }
    return new ShardWriter(folder, features, batchRows);
  }

  /**
   * Appends one row, values in the order of the features' columns: Integer, Long, Float, Double, Boolean,
   * String, or int[], long[], float[], double[] (or a List) for list columns.
   */
  public void write(Object[] row) {
    writer.write(row);
  }

  /** The rows written so far. */
  public long rows() {
    return writer.rows();
  }

  /**
   * Finishes the file, writes the folder's state and opens it memory-mapped. With {@code deleteOnClose} the
   * folder is deleted when the returned dataset is closed.
   */
  public Dataset commit(boolean deleteOnClose) {
    writer.commit();
    committed = true;
    DatasetFolder.State state = new DatasetFolder.State(Fingerprint.random(), features, writer.rows(),
        List.of(DatasetFolder.fileName(0, 1)));
    DatasetFolder.write(folder, state);
    return Dataset.open(folder, state, CacheDirectory.resolve(null), deleteOnClose ? folder : null);
  }

  @Override
  public void close() {
    writer.close();
    if (!committed) {
      io.sparkformers.datasets.internal.ArrowTable.deleteRecursively(folder);
    }
  }
}
