package io.sparkformers.datasets.internal;

import io.sparkformers.datasets.ColumnType;
import io.sparkformers.datasets.Features;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowFileWriter;

/**
 * Writes rows into one Arrow IPC file, {@code batchRows} rows per record batch. The file is written under a
 * temporary name and renamed into place by {@link #commit()}, so a crash never leaves a half-written file
 * under the final name; {@link #close()} without commit deletes the temporary file.
 */
public final class ArrowShardWriter implements AutoCloseable {
  /** Hugging Face's default writer_batch_size. */
  public static final int DEFAULT_BATCH_ROWS = 1000;

  private final Features features;
  private final ColumnType[] types;
  private final Path target;
  private final Path temp;
  private final int batchRows;
  private final BufferAllocator allocator;
  private final VectorSchemaRoot root;
  private final FileChannel channel;
  private final ArrowFileWriter writer;
  private int rowsInBatch;
  private long rows;
  private boolean committed;

  public ArrowShardWriter(Path target, Features features, int batchRows) {
    this.features = features;
    this.types = features.asMap().values().toArray(new ColumnType[0]);
    this.target = target;
    this.temp = target.resolveSibling("." + target.getFileName() + ".tmp-" + UUID.randomUUID());
    this.batchRows = batchRows;
    this.allocator = new RootAllocator();
    try {
      Files.createDirectories(target.toAbsolutePath().getParent());
      this.root = VectorSchemaRoot.create(features.toArrow(), allocator);
      this.channel = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
      this.writer = new ArrowFileWriter(root, null, channel);
      writer.start();
    } catch (IOException e) {
      allocator.close();
      throw new UncheckedIOException("Cannot write " + target, e);
    }
    root.allocateNew();
  }

  public Features features() {
    return features;
  }

  public long rows() {
    return rows;
  }

  /** Appends one row given by column name; a column the row lacks is null. */
  public void write(Map<String, ?> row) {
    Object[] values = new Object[types.length];
    List<String> names = features.names();
    for (int c = 0; c < values.length; c++) {
      values[c] = row.get(names.get(c));
    }
    write(values);
  }

  /** Appends one row, values in the order of the features' columns. */
  public void write(Object[] row) {
    List<FieldVector> vectors = root.getFieldVectors();
    for (int c = 0; c < types.length; c++) {
      ArrowValues.set(vectors.get(c), types[c], rowsInBatch, row[c]);
    }
    rowsInBatch++;
    rows++;
    if (rowsInBatch == batchRows) {
      flush();
    }
  }

  private void flush() {
    if (rowsInBatch == 0) {
      return;
    }
    root.setRowCount(rowsInBatch);
    try {
      writer.writeBatch();
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot write " + temp, e);
    }
    rowsInBatch = 0;
    root.allocateNew();
  }

  /** Writes what is left, closes the file and renames it into place. */
  public Path commit() {
    flush();
    try {
      writer.end();
      writer.close();
      channel.close();
      try {
        Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot write " + target, e);
    }
    committed = true;
    return target;
  }

  @Override
  public void close() {
    try {
      if (!committed) {
        writer.close();
        channel.close();
        Files.deleteIfExists(temp);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      root.close();
      allocator.close();
    }
  }
}
