package io.sparkformers.datasets.internal;

import io.sparkformers.datasets.Features;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;

/**
 * The physical rows behind one or more {@code Dataset}s: memory-mapped Arrow files (or other tables, for a
 * concatenation), shared by reference count so that a dataset derived without copying (shuffle, select,
 * rename) keeps them alive after its parent is closed. The last release closes the vectors, checks the
 * allocator for leaks, and deletes the folder if the table owned a temporary one.
 */
public final class ArrowTable {
  private final Features features;
  private final BufferAllocator allocator;
  private final List<MappedArrowFile> files;
  private final List<ArrowTable> parents;
  private final List<VectorSchemaRoot> batches;
  private final long[] batchStarts;
  private final Path ownedFolder;
  private final AtomicInteger refs = new AtomicInteger(1);

  private ArrowTable(Features features, BufferAllocator allocator, List<MappedArrowFile> files,
      List<ArrowTable> parents, List<VectorSchemaRoot> batches, Path ownedFolder) {
    this.features = features;
    this.allocator = allocator;
    this.files = files;
    this.parents = parents;
    this.batches = batches;
    this.ownedFolder = ownedFolder;
    this.batchStarts = new long[batches.size() + 1];
    for (int i = 0; i < batches.size(); i++) {
      batchStarts[i + 1] = batchStarts[i] + batches.get(i).getRowCount();
    }
  }

  /**
   * Maps {@code paths} in order. Each file's schema must equal {@code features}. When {@code ownedFolder} is
   * not null it is deleted once the table is released for the last time.
   */
  public static ArrowTable open(Features features, List<Path> paths, Path ownedFolder) {
    BufferAllocator allocator = new RootAllocator();
    List<MappedArrowFile> files = new ArrayList<>();
    List<VectorSchemaRoot> batches = new ArrayList<>();
    try {
      for (Path p : paths) {
        MappedArrowFile f = MappedArrowFile.open(p, allocator);
        files.add(f);
        Features found = Features.fromArrow(f.schema());
        if (!found.equals(features)) {
          throw new IllegalArgumentException(p + ": columns " + found + " differ from the dataset's " + features);
        }
        batches.addAll(f.batches());
      }
    } catch (RuntimeException e) {
      files.forEach(MappedArrowFile::close);
      allocator.close();
      throw e;
    }
    return new ArrowTable(features, allocator, files, List.of(), batches, ownedFolder);
  }

  /** The rows of {@code tables} one after the other, all with the same features; retains each. */
  public static ArrowTable concat(Features features, List<ArrowTable> tables) {
    List<VectorSchemaRoot> batches = new ArrayList<>();
    for (ArrowTable t : tables) {
      if (!t.features.equals(features)) {
        throw new IllegalArgumentException("Cannot concatenate columns " + t.features + " with " + features);
      }
      batches.addAll(t.batches);
    }
    tables.forEach(ArrowTable::retain);
    return new ArrowTable(features, null, List.of(), List.copyOf(tables), batches, null);
  }

  public Features features() {
    return features;
  }

  public long rows() {
    return batchStarts[batchStarts.length - 1];
  }

  public List<VectorSchemaRoot> batches() {
    return batches;
  }

  /** The paths of the mapped files, in order (of the parents too, for a concatenation). */
  public List<Path> paths() {
    List<Path> out = new ArrayList<>();
    files.forEach(f -> out.add(f.path()));
    parents.forEach(p -> out.addAll(p.paths()));
    return out;
  }

  /** A view of mapped memory that keeps its mapping alive (see {@link MappedArrowFile#view}). */
  public java.nio.ByteBuffer view(long address, int bytes) {
    for (MappedArrowFile f : files) {
      java.nio.ByteBuffer v = f.view(address, bytes);
      if (v != null) {
        return v;
      }
    }
    for (ArrowTable p : parents) {
      java.nio.ByteBuffer v = p.view(address, bytes);
      if (v != null) {
        return v;
      }
    }
    throw new IllegalStateException("Address is not inside this table's mapped files");
  }

  /** The index of the batch holding {@code row}. */
  public int batchOf(long row) {
    int i = Arrays.binarySearch(batchStarts, row);
    if (i >= 0) {
      // Skip empty batches that start at the same row.
      while (i + 1 < batchStarts.length - 1 && batchStarts[i + 1] == row) {
        i++;
      }
      return i;
    }
    return -i - 2;
  }

  public long batchStart(int batch) {
    return batchStarts[batch];
  }

  public ArrowTable retain() {
    if (refs.getAndIncrement() <= 0) {
      throw new IllegalStateException("The dataset was already closed");
    }
    return this;
  }

  public void release() {
    int left = refs.decrementAndGet();
    if (left > 0) {
      return;
    }
    if (left < 0) {
      throw new IllegalStateException("Released more often than retained");
    }
    files.forEach(MappedArrowFile::close);
    parents.forEach(ArrowTable::release);
    if (allocator != null) {
      allocator.close();
    }
    if (ownedFolder != null) {
      deleteRecursively(ownedFolder);
    }
  }

  /**
   * True when the files stay after the table is released (a loaded or cached dataset): only results derived
   * from such tables are worth writing into the cache under their fingerprint.
   */
  public boolean isPersistent() {
    if (ownedFolder != null) {
      return false;
    }
    for (ArrowTable p : parents) {
      if (!p.isPersistent()) {
        return false;
      }
    }
    return true;
  }

  public boolean isOpen() {
    return refs.get() > 0;
  }

  public static void deleteRecursively(Path folder) {
    if (!Files.exists(folder)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(folder)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot delete " + folder, e);
    }
  }
}
