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
import java.util.List;
import java.util.concurrent.locks.LockSupport;

/**
 * All-reduce between ranks on one host through a shared memory-mapped file (what NCCL does within a node and
 * gloo does not): no system calls and no kernel copies. Each rank owns a slot; per chunk of the buffer a rank
 * (1) copies the parts the others reduce into its slot, (2) reduces its own part over every rank's data in
 * its own buffer and publishes the result in its slot, (3) copies the others' results out of their slots. Ranks meet between phases on per-rank counters (release/acquire), and every rank's descriptor
 * (sequence number, byte count) is checked, so a mismatched collective fails loudly here too.
 */
final class SharedMemoryRing {
  /** Called now and then while a phase waits; throws if a peer is gone, aborted, or runs another collective. */
  interface PeerCheck {
    void check(long seq, long bytes, String what);
  }

  static final int SLOT_BYTES = 4 << 20;
  /** Registered all-reduce chunk: N parts of it fit in the shared L3 cache next to the ranks' working sets. */
  static final int WINDOW_BYTES = 256 << 10;
  /** Registered all-reduces from this size up reduce in place; smaller ones are staged (same size on all ranks). */
  static final int IN_PLACE_MIN_BYTES = 16 << 10;
  private static final int LINE = 128; // one control line per rank: no false sharing
  /** In a rank's line after its two descriptors: the window it is reducing, plus one (0: none). */
  private static final int BUSY = 8 + 2 * 32;
  /** In a claims line: the count of windows done, on its own cache line apart from the claim counter. */
  private static final int DONE = 64;
  private static final VarHandle LONGS = MethodHandles.byteBufferViewVarHandle(long[].class,
      ByteOrder.nativeOrder());

  private final int rank;
  private final int worldSize;
  private final MappedByteBuffer map;
  private final long timeoutNanos;
  private final Reducer reducer;
  private final PeerCheck checkPeers;
  private final Watchdog watchdog;
  /** More ranks on this host than cores for them (see {@link #backOff}). */
  private final boolean oversubscribed;
  /** Each rank's registered-buffer offset in the current collective, -1 for none; read in {@link #awaitAll}. */
  private final long[] offsets;
  /** The ranks' arenas of registered buffers, or null when there are none. */
  private SharedArenas arenas;
  private long phase;
  /** The collective under way: number, bytes, code and its name for messages. */
  private long seq;
  private long bytes;
  private long code;
  private String what = "";
  /** How many all-reduces took the registered, in-place path (tests check that it ran). */
  long inPlaceCollectives;

  private SharedMemoryRing(int rank, int worldSize, MappedByteBuffer map, long timeoutNanos, Reducer reducer,
      PeerCheck checkPeers, Watchdog watchdog) {
    this.watchdog = watchdog;
    this.offsets = new long[worldSize];
    this.rank = rank;
    this.worldSize = worldSize;
    this.map = map;
    this.timeoutNanos = timeoutNanos;
    this.reducer = reducer;
    this.checkPeers = checkPeers;
    this.oversubscribed = worldSize > Runtime.getRuntime().availableProcessors();
  }

  /** A line per rank (phase, descriptors), then two lines of window claim counters; whole pages. */
  private static int controlBytes(int worldSize) {
    return ((worldSize + 2) * LINE + 4095) / 4096 * 4096;
  }

  static long fileBytes(int worldSize) {
    return controlBytes(worldSize) + 2L * worldSize * SLOT_BYTES;
  }

  /** Maps the file; {@code checkPeers} is called now and then while waiting and throws if a peer is gone. */
  static SharedMemoryRing map(Path file, boolean create, int rank, int worldSize, long timeoutNanos,
      Reducer reducer, PeerCheck checkPeers, Watchdog watchdog) throws IOException {
    try (FileChannel fc = create
        ? FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE)
        : FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      MappedByteBuffer map = fc.map(FileChannel.MapMode.READ_WRITE, 0, fileBytes(worldSize));
      map.order(ByteOrder.nativeOrder());
      return new SharedMemoryRing(rank, worldSize, map, timeoutNanos, reducer, checkPeers, watchdog);
    }
  }

  void useArenas(SharedArenas arenas) {
    this.arenas = arenas;
  }

  /** Rank r's slot for chunks of parity {@code half}: alternating halves let a chunk start while peers copy out. */
  private int slot(int r, int half) {
    return controlBytes(worldSize) + (2 * r + half) * SLOT_BYTES;
  }

  /** Announces that this rank finished phase {@code phase}, with its descriptor of the collective. */
  private void publish(long offset) {
    int line = rank * LINE;
    // Two descriptor slots by phase parity: a peer can be one phase ahead, writing the other slot.
    int desc = line + 8 + 32 * (int) (phase & 1);
    map.putLong(desc, seq);
    map.putLong(desc + 8, bytes);
    map.putLong(desc + 16, offset);
    map.putLong(desc + 24, code);
    LONGS.setRelease(map, line, phase);
  }

  /**
   * Waits until every rank finished the current phase; checks that they run the same collective (number,
   * operation, root, size) and records each rank's registered-buffer offset (-1: none) in {@link #offsets}.
   */
  private void awaitAll() {
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
                + " (shared memory); that rank is stuck, dead, or issued other collectives", List.of(r));
          }
          backOff(waited);
          if ((spins & 255) == 0) {
            checkPeers.check(seq, bytes, what);
            int waitedFor = r;
            watchdog.waiting(start, seq, what, () -> "rank " + waitedFor);
          }
        }
      }
      int desc = line + 8 + 32 * (int) (phase & 1);
      long theirSeq = map.getLong(desc);
      long theirBytes = map.getLong(desc + 8);
      offsets[r] = map.getLong(desc + 16);
      long theirCode = map.getLong(desc + 24);
      if (theirSeq != seq || theirBytes != bytes || theirCode != code) {
        throw new CollectiveException("rank " + rank + ": collectives issued out of order: rank " + r
            + " runs collective #" + theirSeq + " " + describe(theirCode) + " of " + theirBytes + " bytes, but rank "
            + rank + " runs collective #" + seq + " " + what + " of " + bytes + " bytes (every rank must issue"
            + " the same collectives, with the same sizes, in the same order)");
      }
    }
  }

  /**
   * One pause of a wait that outlasted its spinning: yield (the peer is about to publish), then sleep briefly.
   * With a core per rank, yield for up to 2 ms. With more ranks than cores, for only 0.1 ms: a yield does not
   * reliably hand the core to a rank that has yet to arrive or to notice the end (Linux's EEVDF scheduler may
   * pick the yielder again). Sleeping at once instead cost small all-reduces 0.4 ms (4 KiB: 500 us, against
   * 90-160 us with the short yield). With the JITs quiet, 0.1 ms and 2 ms are level from 1 MiB up on 4 ranks
   * and 2 cores, and 0.1 ms is the faster at 4 KiB (43-51 us against 51-97 us).
   */
  private void backOff(long waitedNanos) {
    if (waitedNanos < (oversubscribed ? 100_000 : 2_000_000)) {
      Thread.yield();
    } else {
      LockSupport.parkNanos(oversubscribed ? 20_000 : 50_000);
    }
  }

  /** Codes of the collectives in the descriptors: the operation, and a broadcast's root. */
  private static final int ALL_REDUCE = 1;
  private static final int BROADCAST = 2;
  private static final int ALL_GATHER = 3;

  private static String describe(long code) {
    return switch ((int) (code & 0xff)) {
      case ALL_REDUCE -> "ALL_REDUCE";
      case BROADCAST -> "BROADCAST from rank " + (code >>> 8);
      case ALL_GATHER -> "ALL_GATHER";
      default -> "unknown operation " + code;
    };
  }

  /** Starts a collective: announces it with this rank's offset, waits for all; true if every rank registered. */
  private boolean begin(long seq, long bytes, long code, long offset) {
    this.seq = seq;
    this.bytes = bytes;
    this.code = code;
    this.what = describe(code);
    phase++;
    publish(offset);
    awaitAll();
    boolean registered = arenas != null;
    for (int r = 0; r < worldSize; r++) {
      registered &= offsets[r] >= 0;
    }
    return registered;
  }

  private void step() {
    phase++;
    publish(-1);
    awaitAll();
  }

  /**
   * All-reduce of {@code data}. {@code offset} is where {@code data} starts in this rank's arena when it is a
   * registered buffer, else -1. The first phase announces the collective and every rank's offset: when every
   * rank's buffer is registered, they reduce straight from each other's buffers ({@link #allReduceInPlace});
   * otherwise every rank takes the staged path through the slots. All ranks see the same offsets, so all
   * choose the same path.
   */
  void allReduce(ByteBuffer data, ElementType type, ReduceOp op, long seq, long offset) {
    // Below IN_PLACE_MIN_BYTES there is a single window, nothing to share out: N-1 ranks would only poll one
    // claimer's done count, and the copies saved are a few KiB.
    if (begin(seq, data.remaining(), ALL_REDUCE, offset) && data.remaining() >= IN_PLACE_MIN_BYTES) {
      for (int q = 0; q < worldSize; q++) {
        arenas.prefault(q, offsets[q], data.remaining());
      }
      allReduceInPlace(data, type, op, offsets.clone()); // later phases overwrite offsets
      inPlaceCollectives++;
    } else {
      allReduceStaged(data, type, op);
    }
  }

  /**
   * Broadcast of {@code data} from {@code root}: when the root's buffer is registered, every other rank copies
   * it straight out of the root's arena; otherwise the root stages it through its slots chunk by chunk.
   */
  void broadcast(ByteBuffer data, int root, long seq, long offset) {
    int n = data.remaining();
    begin(seq, n, BROADCAST | ((long) root << 8), offset);
    long rootAt = offsets[root];
    if (rootAt >= 0 && arenas != null) {
      if (rank != root) {
        arenas.prefault(root, rootAt, n);
        Buffers.copy(arenas.arena(root), (int) rootAt, data, 0, n);
      }
    } else {
      int half = 0;
      for (int at = 0; at < n; at += SLOT_BYTES, half ^= 1) {
        int len = Math.min(SLOT_BYTES, n - at);
        if (rank == root) {
          Buffers.copy(data, at, map, slot(root, half), len);
        }
        step();
        if (rank != root) {
          Buffers.copy(map, slot(root, half), data, at, len);
        }
      }
    }
    step(); // the root's buffer and slots stay as they are until every rank has copied out
  }

  /**
   * All-gather of every rank's {@code input} into {@code output} (block q from rank q): straight out of the
   * peers' registered inputs when every rank's is registered, else staged through each rank's slots.
   */
  void allGather(ByteBuffer input, ByteBuffer output, long seq, long offset) {
    int n = input.remaining();
    boolean registered = begin(seq, n, ALL_GATHER, offset);
    Buffers.copy(input, 0, output, rank * n, n);
    if (registered) {
      long[] at = offsets.clone();
      for (int q = 0; q < worldSize; q++) {
        if (q != rank) {
          arenas.prefault(q, at[q], n);
          Buffers.copy(arenas.arena(q), (int) at[q], output, q * n, n);
        }
      }
    } else {
      int half = 0;
      for (int at = 0; at < n; at += SLOT_BYTES, half ^= 1) {
        int len = Math.min(SLOT_BYTES, n - at);
        Buffers.copy(input, at, map, slot(rank, half), len);
        step();
        for (int q = 0; q < worldSize; q++) {
          if (q != rank) {
            Buffers.copy(map, slot(q, half), output, q * n + at, len);
          }
        }
      }
    }
    step();
  }

  /**
   * One pass over registered buffers: the buffer is cut into windows of {@link #WINDOW_BYTES}, and every rank
   * claims windows from a shared counter until none are left; for a window it claims, a rank reduces every
   * rank's values in rank order and writes the result into every rank's buffer. Each window is read and written
   * by exactly one rank, so nothing races, and every rank ends with the same bits (those of a plain loop over
   * ranks). Whoever runs does the work: with more ranks than free cores, a rank the OS has not scheduled costs
   * nothing, and the ranks wait for a count of windows done, not for each other, at the end. Memory traffic is
   * N reads and N writes of the buffer in all (a reduce-scatter plus all-gather moves more), and there is one
   * phase (the announcement) in which every rank takes part.
   *
   * <p>The claim and done counters come in two sets used by alternate in-place collectives; rank 0 zeroes the
   * next one's set during this one, when every rank has left the previous collective (they all announced this one)
   * and none can reach the next one before rank 0 announces it.
   */
  private void allReduceInPlace(ByteBuffer data, ElementType type, ReduceOp op, long[] offsets) {
    int bytes = data.remaining();
    int esize = type.bytes();
    int windowBytes = WINDOW_BYTES / esize * esize;
    int windows = (bytes + windowBytes - 1) / windowBytes;
    int claims = worldSize * LINE + (int) (inPlaceCollectives & 1) * LINE;
    int done = claims + DONE;
    if (rank == 0) {
      int nextClaims = worldSize * LINE + (int) ((inPlaceCollectives + 1) & 1) * LINE;
      LONGS.setRelease(map, nextClaims, 0L);
      LONGS.setRelease(map, nextClaims + DONE, 0L);
    }
    ByteBuffer[] bufs = new ByteBuffer[worldSize];
    int[] offs = new int[worldSize];
    for (int q = 0; q < worldSize; q++) {
      bufs[q] = q == rank ? data : arenas.arena(q);
    }
    int busy = rank * LINE + BUSY;
    for (long w; (w = (long) LONGS.getAndAdd(map, claims, 1L)) < windows; ) {
      map.putLong(busy, w + 1); // names this rank if it dies or stalls with the window
      int at = (int) w * windowBytes;
      for (int q = 0; q < worldSize; q++) {
        offs[q] = (q == rank ? 0 : (int) offsets[q]) + at;
      }
      reducer.reduceAll(type, op, bufs, offs, bufs, offs, Math.min(windowBytes, bytes - at));
      map.putLong(busy, 0L);
      LONGS.getAndAdd(map, done, 1L); // releases the window's writes to whoever sees the count
    }
    awaitWindows(done, windows);
  }

  /**
   * Waits until {@code windows} windows are done: then every rank's buffer is complete and nobody reads this
   * one any more. No need to wait for the other ranks themselves: a rank the OS has not scheduled does not
   * hold up the others (it finds the work done when it runs). A timeout names the ranks holding a window.
   */
  private void awaitWindows(int done, long windows) {
    long start = System.nanoTime();
    long spins = 0;
    while ((long) LONGS.getAcquire(map, done) < windows) {
      spins++;
      if (spins < 200) {
        Thread.onSpinWait();
        continue;
      }
      long waited = System.nanoTime() - start;
      if (waited > timeoutNanos) {
        throw new CollectiveException("rank " + rank + ": collective #" + seq + " " + what + " timed out after "
            + Math.round(timeoutNanos / 1e9) + " s waiting for " + windowHolders()
            + " (shared memory); that rank is stuck or dead", windowHolderRanks());
      }
      backOff(waited);
      if ((spins & 255) == 0) {
        checkPeers.check(seq, bytes, what);
        watchdog.waiting(start, seq, what, () -> windowHolders());
      }
    }
  }

  private List<Integer> windowHolderRanks() {
    List<Integer> ranks = new java.util.ArrayList<>();
    for (int r = 0; r < worldSize; r++) {
      if ((long) LONGS.getAcquire(map, r * LINE + BUSY) > 0) {
        ranks.add(r);
      }
    }
    return ranks;
  }

  /** The ranks holding a window of the current collective ("rank 1 (window 3)"), or "the other ranks". */
  private String windowHolders() {
    java.util.List<String> holders = new java.util.ArrayList<>();
    for (int r = 0; r < worldSize; r++) {
      long w = (long) LONGS.getAcquire(map, r * LINE + BUSY);
      if (w > 0) {
        holders.add("rank " + r + " (window " + (w - 1) + ")");
      }
    }
    return holders.isEmpty() ? "the other ranks" : String.join(", ", holders);
  }

  private void allReduceStaged(ByteBuffer data, ElementType type, ReduceOp op) {
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
      step();
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
      step();
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
    step();
  }

  private int partStart(int n, int q) {
    return (int) ((long) n * q / worldSize);
  }
}
