package io.sparkformers.accelerate.tcp;

import io.sparkformers.accelerate.CollectiveException;
import io.sparkformers.accelerate.ElementType;
import io.sparkformers.accelerate.ReduceOp;
import io.sparkformers.accelerate.internal.Buffers;
import io.sparkformers.accelerate.internal.Reducer;
import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.locks.LockSupport;

/**
 * All-reduce between ranks on one host through a shared memory-mapped file (what NCCL does within a node and
 * gloo does not): no system calls and no kernel copies. Each rank owns a slot; per chunk of the buffer a rank
 * (1) copies the parts the others reduce into its slot, (2) reduces its own part over every rank's data in
 * its own buffer and publishes the result in its slot, (3) copies the others' results out of their slots. Ranks meet between phases on per-rank counters (release/acquire), and every rank's descriptor
 * (sequence number, byte count) is checked, so a mismatched collective fails loudly here too.
 */
final class SharedMemoryRing {
  static final int SLOT_BYTES = 4 << 20;
  private static final int CONTROL_BYTES = 4096;
  private static final int LINE = 128; // one control line per rank: no false sharing
  private static final VarHandle LONGS = MethodHandles.byteBufferViewVarHandle(long[].class,
      ByteOrder.nativeOrder());

  private final int rank;
  private final int worldSize;
  private final MappedByteBuffer map;
  private final long timeoutNanos;
  private final Reducer reducer;
  private final java.util.function.LongConsumer checkPeers;
  private long phase;

  private SharedMemoryRing(int rank, int worldSize, MappedByteBuffer map, long timeoutNanos, Reducer reducer,
      java.util.function.LongConsumer checkPeers) {
    this.rank = rank;
    this.worldSize = worldSize;
    this.map = map;
    this.timeoutNanos = timeoutNanos;
    this.reducer = reducer;
    this.checkPeers = checkPeers;
  }

  static long fileBytes(int worldSize) {
    return CONTROL_BYTES + 2L * worldSize * SLOT_BYTES;
  }

  /** Maps the file; {@code checkPeers} is called now and then while waiting and throws if a peer is gone. */
  static SharedMemoryRing map(Path file, boolean create, int rank, int worldSize, long timeoutNanos,
      Reducer reducer, java.util.function.LongConsumer checkPeers) throws IOException {
    try (FileChannel fc = create
        ? FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE)
        : FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      MappedByteBuffer map = fc.map(FileChannel.MapMode.READ_WRITE, 0, fileBytes(worldSize));
      map.order(ByteOrder.nativeOrder());
      return new SharedMemoryRing(rank, worldSize, map, timeoutNanos, reducer, checkPeers);
    }
  }

  /** Rank r's slot for chunks of parity {@code half}: alternating halves let a chunk start while peers copy out. */
  private int slot(int r, int half) {
    return CONTROL_BYTES + (2 * r + half) * SLOT_BYTES;
  }

  /** Announces that this rank finished phase {@code phase}, with its descriptor of the collective. */
  private void publish(long seq, long bytes) {
    int line = rank * LINE;
    // Two descriptor slots by phase parity: a peer can be one phase ahead, writing the other slot.
    int desc = line + 8 + 16 * (int) (phase & 1);
    map.putLong(desc, seq);
    map.putLong(desc + 8, bytes);
    LONGS.setRelease(map, line, phase);
  }

  /** Waits until every rank finished the current phase; checks that they run the same collective. */
  private void awaitAll(long seq, long bytes, String what) {
    long start = System.nanoTime();
    long spins = 0;
    for (int r = 0; r < worldSize; r++) {
      int line = r * LINE;
      while ((long) LONGS.getAcquire(map, line) < phase) {
        spins++;
        if (spins < 200) {
          Thread.onSpinWait();
        } else {
          long waited = System.nanoTime() - start;
          if (waited > timeoutNanos) {
            throw new CollectiveException("rank " + rank + ": collective #" + seq + " " + what
                + " timed out after " + Math.round(timeoutNanos / 1e9) + " s waiting for rank " + r
                + " (shared memory); that rank is stuck, dead, or issued other collectives");
          }
          // Yield first (the peer may need this core), then sleep briefly once the wait is long.
          if (waited < 2_000_000) {
            Thread.yield();
          } else {
            LockSupport.parkNanos(50_000);
          }
          if ((spins & 255) == 0) {
            checkPeers.accept(seq);
          }
        }
      }
      int desc = line + 8 + 16 * (int) (phase & 1);
      long theirSeq = map.getLong(desc);
      long theirBytes = map.getLong(desc + 8);
      if (theirSeq != seq || theirBytes != bytes) {
        throw new CollectiveException("rank " + rank + ": collectives issued out of order: rank " + r
            + " runs collective #" + theirSeq + " of " + theirBytes + " bytes, but rank " + rank
            + " runs collective #" + seq + " " + what + " of " + bytes + " bytes (every rank must issue the same"
            + " collectives, with the same sizes, in the same order)");
      }
    }
  }

  private void step(long seq, long bytes, String what) {
    phase++;
    publish(seq, bytes);
    awaitAll(seq, bytes, what);
  }

  void allReduce(ByteBuffer data, ElementType type, ReduceOp op, long seq) {
    int bytes = data.remaining();
    int esize = type.bytes();
    int chunkElems = SLOT_BYTES / esize;
    int count = bytes / esize;
    int half = 0;
    for (int first = 0; first < count; first += chunkElems, half ^= 1) {
      int n = Math.min(chunkElems, count - first);
      int base = first * esize;
      // (1) the parts the others reduce go into this rank's slot. The slot half was last used two chunks ago;
      // every rank finished copying out of it before it passed the previous chunk's first step.
      for (int q = 0; q < worldSize; q++) {
        if (q != rank) {
          int from = partStart(n, q) * esize;
          int len = partStart(n, q + 1) * esize - from;
          Buffers.copy(data, base + from, map, slot(rank, half) + from, len);
        }
      }
      step(seq, bytes, "ALL_REDUCE");
      // (2) this rank's part, reduced in place in its own buffer and published in its slot. Only this rank
      // computes this part and everyone copies it, so every rank ends with the same bits.
      int from = partStart(n, rank) * esize;
      int len = partStart(n, rank + 1) * esize - from;
      if (len > 0) {
        for (int q = 0; q < worldSize; q++) {
          if (q != rank) {
            reducer.reduce(type, op, map, slot(q, half) + from, data, base + from, len);
          }
        }
        if (op == ReduceOp.AVG) {
          reducer.divide(type, data, base + from, len, worldSize);
        }
        Buffers.copy(data, base + from, map, slot(rank, half) + from, len);
      }
      step(seq, bytes, "ALL_REDUCE");
      // (3) the others' results
      for (int q = 0; q < worldSize; q++) {
        if (q != rank) {
          int qFrom = partStart(n, q) * esize;
          int qLen = partStart(n, q + 1) * esize - qFrom;
          Buffers.copy(map, slot(q, half) + qFrom, data, base + qFrom, qLen);
        }
      }
    }
    // Before returning, every rank has copied out: the caller may reuse the slots in the next collective.
    step(seq, bytes, "ALL_REDUCE");
  }

  private int partStart(int n, int q) {
    return (int) ((long) n * q / worldSize);
  }
}
