package io.sparkformers.accelerate.tcp;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * Where {@code ProcessGroup.allocate} puts registered buffers: one arena file per rank in /dev/shm, mapped by
 * every rank of the host, so that an all-reduce reads the peers' buffers in place. An arena is a sparse file
 * (it costs no memory until used); a buffer's pages are reserved with {@code write()} when it is allocated, so
 * that a full tmpfs is an error there, not a SIGBUS when a mapped page is first touched. Buffers are never
 * freed one by one (gradient buckets live as long as the group); the memory goes when the group is closed and
 * the buffers are unreachable.
 */
final class SharedArenas implements AutoCloseable {
  /** Buffers start on cache-line-pair boundaries: no false sharing, aligned vector loads. */
  private static final int ALIGN = 128;
  private static final int RESERVE_CHUNK = 1 << 20;

  private final int rank;
  private final long capacity;
  private final FileChannel own;
  private final MappedByteBuffer[] maps;
  private final Map<ByteBuffer, Long> offsets = new IdentityHashMap<>();
  /** Per rank, the arena pages this process has touched through its mapping (see {@link #prefault}). */
  private final java.util.BitSet[] faulted;
  private static final java.lang.invoke.VarHandle INTS = java.lang.invoke.MethodHandles.byteBufferViewVarHandle(
      int[].class, ByteOrder.nativeOrder());
  private static final int PAGE = 4096;
  private long next;

  private SharedArenas(int rank, long capacity, FileChannel own, MappedByteBuffer[] maps) {
    this.rank = rank;
    this.capacity = capacity;
    this.own = own;
    this.maps = maps;
    this.faulted = new java.util.BitSet[maps.length];
    for (int q = 0; q < maps.length; q++) {
      faulted[q] = new java.util.BitSet();
    }
  }

  /** The arena file of {@code rank} for the group whose shared-memory ring file is {@code ringFile}. */
  static Path file(Path ringFile, int rank) {
    return ringFile.resolveSibling(ringFile.getFileName() + "-rank" + rank);
  }

  /** Creates this rank's arena file (sparse, {@code capacity} bytes) and maps it. */
  static SharedArenas create(Path ringFile, int rank, int worldSize, long capacity) throws IOException {
    Path file = file(ringFile, rank);
    FileChannel fc = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
        StandardOpenOption.WRITE);
    try {
      // A one-byte write at the end makes the file its full, sparse size
      fc.write(ByteBuffer.allocate(1), capacity - 1);
      MappedByteBuffer[] maps = new MappedByteBuffer[worldSize];
      maps[rank] = fc.map(FileChannel.MapMode.READ_WRITE, 0, capacity);
      maps[rank].order(ByteOrder.nativeOrder());
      return new SharedArenas(rank, capacity, fc, maps);
    } catch (IOException | RuntimeException e) {
      fc.close();
      Files.deleteIfExists(file);
      throw e;
    }
  }

  /** Maps every peer's arena; call once all ranks have created theirs. */
  void mapPeers(Path ringFile) throws IOException {
    for (int q = 0; q < maps.length; q++) {
      if (q != rank) {
        try (FileChannel fc = FileChannel.open(file(ringFile, q), StandardOpenOption.READ,
            StandardOpenOption.WRITE)) {
          maps[q] = fc.map(FileChannel.MapMode.READ_WRITE, 0, capacity);
          maps[q].order(ByteOrder.nativeOrder());
        }
      }
    }
  }

  /** Removes this rank's arena's name (the mappings keep the memory). */
  void unlink(Path ringFile) {
    try {
      Files.deleteIfExists(file(ringFile, rank));
    } catch (IOException ignored) {
      // tmpfs: nothing else to do; the memory goes when the last mapping does
    }
  }

  /** A zeroed buffer in this rank's arena, or null when the arena or the tmpfs has no room left. */
  synchronized ByteBuffer allocate(int bytes) {
    long at = (next + ALIGN - 1) / ALIGN * ALIGN;
    // The arena's last page is reserved already (the byte that sized the file): stop short of it.
    if (at + bytes > capacity - 4096 || !own.isOpen()) {
      return null;
    }
    try {
      ByteBuffer zeros = ByteBuffer.allocateDirect(Math.min(RESERVE_CHUNK, Math.max(bytes, 1)));
      for (long done = 0; done < bytes; ) {
        zeros.clear().limit((int) Math.min(zeros.capacity(), bytes - done));
        done += own.write(zeros, at + done);
      }
    } catch (IOException e) {
      return null; // ENOSPC: the tmpfs is full; the caller falls back to a plain direct buffer
    }
    ByteBuffer b = maps[rank].duplicate().position((int) at).limit((int) (at + bytes)).slice()
        .order(ByteOrder.nativeOrder());
    offsets.put(b, at);
    next = at + bytes;
    return b;
  }

  /** The arena offset of {@code buffer}'s first byte (index 0, not its position), or -1 if not allocated here. */
  synchronized long offsetOf(ByteBuffer buffer) {
    Long at = offsets.get(buffer);
    return at == null ? -1 : at;
  }

  /**
   * Maps into this process every page of rank {@code q}'s arena in {@code [offset, offset + bytes)} not
   * mapped yet, with an atomic add of zero per page (a write access that changes nothing, harmless while other
   * ranks write the same page). Otherwise the first collectives on a buffer pay a page fault per 4 KiB in the
   * middle of their copies, on every rank, and a rank that claims windows it never touched before keeps paying
   * them long after the warm-up. The pages exist already (reserved by {@link #allocate}): nothing is allocated.
   */
  void prefault(int q, long offset, long bytes) {
    if (bytes <= 0) {
      return;
    }
    java.util.BitSet done = faulted[q];
    int first = (int) (offset / PAGE);
    int last = (int) ((offset + bytes - 1) / PAGE);
    for (int page = done.nextClearBit(first); page <= last; page = done.nextClearBit(page + 1)) {
      long at = Math.max((long) page * PAGE, (offset + 3) & ~3L);
      if (at + 4 <= offset + bytes) {
        INTS.getAndAdd(maps[q], (int) at, 0);
      }
      done.set(page);
    }
  }

  /** Rank {@code q}'s arena, mapped in this process. */
  ByteBuffer arena(int q) {
    return maps[q];
  }

  @Override
  public void close() {
    try {
      own.close();
    } catch (IOException ignored) {
      // nothing to flush: tmpfs
    }
  }
}
