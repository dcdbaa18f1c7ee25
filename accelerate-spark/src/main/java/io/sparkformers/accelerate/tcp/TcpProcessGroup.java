package io.sparkformers.accelerate.tcp;

import io.sparkformers.accelerate.CollectiveException;
import io.sparkformers.accelerate.ElementType;
import io.sparkformers.accelerate.ProcessGroup;
import io.sparkformers.accelerate.ProcessGroupOptions;
import io.sparkformers.accelerate.ReduceOp;
import io.sparkformers.accelerate.internal.Buffers;
import io.sparkformers.accelerate.internal.Reducer;
import java.io.IOException;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A process group over one TCP connection per pair of ranks, driven by a single-threaded non-blocking
 * progress loop: every step of a collective is a set of sends and receives that the loop advances together
 * (so a rank sends to its right neighbour while it receives from its left one and reduces what arrived),
 * waiting in a {@link Selector} with the group's timeout when no channel can move.
 *
 * <p>Each message starts with a 24-byte header (magic, operation, sequence number, payload bytes) that the
 * receiver checks against what it issued itself.
 */
final class TcpProcessGroup implements ProcessGroup {
  private static final int MAGIC = 0x53465047; // "SFPG"
  private static final int HEADER_BYTES = 24;
  /** Reduce received data once this much has arrived (or the segment is complete). */
  private static final int REDUCE_CHUNK_BYTES = 256 * 1024;
  private static final int MAX_ABORT_TEXT = 16 * 1024;
  private static final int SOCKET_BUFFER_BYTES = 4 << 20;

  enum Op {
    ALL_REDUCE, BROADCAST, ALL_GATHER, REDUCE_SCATTER, BARRIER, SEND_RECV, ABORT;

    static String name(int code) {
      return code >= 0 && code < values().length ? values()[code].name() : "unknown operation " + code;
    }
  }

  private final int rank;
  private final int worldSize;
  private final SocketChannel[] channels;
  private final SelectionKey[] keys;
  private final Selector selector;
  private final ProcessGroupOptions options;
  private final long timeoutNanos;
  private final Watchdog watchdog;
  private final long watchdogIntervalNanos;
  private final Reducer reducer = new Reducer();
  private final ReentrantLock opLock = new ReentrantLock();
  private final long[] p2pSent;
  /** Whether a message to each peer was started and not finished (an ABORT must not be cut into it). */
  private final boolean[] sendInProgress;
  private final long[] p2pReceived;

  private long sequence;
  private ByteBuffer scratch = ByteBuffer.allocateDirect(0);
  private ByteBuffer work = ByteBuffer.allocateDirect(0);
  private SharedMemoryRing sharedMemory;
  /** Registered buffers ({@link #allocate}) in /dev/shm, or null when shared memory is off. */
  private SharedArenas arenas;
  /** Header bytes that arrived while a shared-memory collective watched the sockets, by peer. */
  private final ByteBuffer[] pushback;
  private volatile RuntimeException failure;
  private volatile boolean closed;
  private ExecutorService asyncThread;
  private CompletableFuture<Void> asyncTail = CompletableFuture.completedFuture(null);

  TcpProcessGroup(int rank, int worldSize, SocketChannel[] channels, ProcessGroupOptions options)
      throws IOException {
    this.rank = rank;
    this.worldSize = worldSize;
    this.channels = channels;
    this.options = options;
    this.timeoutNanos = options.timeout().toNanos();
    this.watchdog = new Watchdog(rank, options.timeout());
    this.watchdogIntervalNanos = Watchdog.interval(options.timeout()).toNanos();
    this.selector = Selector.open();
    this.keys = new SelectionKey[worldSize];
    this.p2pSent = new long[worldSize];
    this.sendInProgress = new boolean[worldSize];
    this.p2pReceived = new long[worldSize];
    this.pushback = new ByteBuffer[worldSize];
    for (int p = 0; p < worldSize; p++) {
      pushback[p] = ByteBuffer.allocate(HEADER_BYTES);
    }
    for (int p = 0; p < worldSize; p++) {
      if (p != rank) {
        SocketChannel ch = channels[p];
        ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
        // Large buffers: fewer wake-ups of the progress loop per megabyte moved.
        ch.setOption(StandardSocketOptions.SO_SNDBUF, SOCKET_BUFFER_BYTES);
        ch.setOption(StandardSocketOptions.SO_RCVBUF, SOCKET_BUFFER_BYTES);
        ch.configureBlocking(false);
        keys[p] = ch.register(selector, 0);
      }
    }
  }

  @Override
  public int rank() {
    return rank;
  }

  @Override
  public int worldSize() {
    return worldSize;
  }

  @Override
  public Duration timeout() {
    return options.timeout();
  }

  /**
   * Sets up the shared-memory all-reduce when every rank runs on this host: rank 0 creates the file in
   * /dev/shm and broadcasts its name, every rank maps it, and all agree (an all-reduce of MIN over "mapped")
   * before rank 0 removes the name (the mappings stay). Any rank that cannot map it turns it off for all.
   * Then each rank creates its arena of registered buffers next to it, maps the others' once all exist, and
   * removes its arena's name; a rank that cannot turns registered buffers off for all (the ring stays).
   */
  void setUpSharedMemory() {
    ByteBuffer name = ByteBuffer.allocateDirect(256).order(java.nio.ByteOrder.nativeOrder());
    java.nio.file.Path file = null;
    SharedMemoryRing ring = null;
    if (rank == 0) {
      // Rank 0 creates and maps the file before anyone hears its name.
      java.nio.file.Path dir = java.nio.file.Path.of("/dev/shm");
      try {
        // A full tmpfs would crash the JVM (SIGBUS) when a page is first touched: check the room first.
        if (java.nio.file.Files.isDirectory(dir) && java.nio.file.Files.isWritable(dir)
            && java.nio.file.Files.getFileStore(dir).getUsableSpace() > 2 * SharedMemoryRing.fileBytes(worldSize)) {
          file = dir.resolve("sparkformers-" + Long.toHexString(new java.security.SecureRandom().nextLong()));
          ring = SharedMemoryRing.map(file, true, rank, worldSize, timeoutNanos, reducer, this::checkPeers, watchdog);
          name.put(0, file.toString().getBytes(StandardCharsets.UTF_8));
        }
      } catch (IOException | RuntimeException e) {
        ring = null;
      }
    }
    broadcast(name, ElementType.INT32, 0);
    byte[] raw = new byte[256];
    name.get(0, raw);
    int len = 0;
    while (len < raw.length && raw[len] != 0) {
      len++;
    }
    java.nio.file.Path ringFile = len > 0 ? java.nio.file.Path.of(new String(raw, 0, len, StandardCharsets.UTF_8))
        : null;
    if (ringFile != null && rank != 0) {
      try {
        ring = SharedMemoryRing.map(ringFile, false, rank, worldSize, timeoutNanos, reducer, this::checkPeers, watchdog);
      } catch (IOException | RuntimeException e) {
        ring = null;
      }
    }
    // Registered buffers: every rank creates its arena, then (once all have) maps the others'.
    SharedArenas arena = null;
    if (ring != null && options.sharedMemoryArenaBytes() >= 1 << 16) {
      try {
        arena = SharedArenas.create(ringFile, rank, worldSize, options.sharedMemoryArenaBytes());
      } catch (IOException | RuntimeException e) {
        arena = null;
      }
    }
    ByteBuffer ok = ByteBuffer.allocateDirect(8).order(java.nio.ByteOrder.nativeOrder());
    ok.putInt(0, ring != null ? 1 : 0).putInt(4, arena != null ? 1 : 0);
    allReduce(ok, ElementType.INT32, ReduceOp.MIN);
    if (ok.getInt(4) == 1) {
      try {
        arena.mapPeers(ringFile);
      } catch (IOException | RuntimeException e) {
        ok.putInt(4, 0);
      }
      allReduce(ok, ElementType.INT32, ReduceOp.MIN);
    }
    if (arena != null) {
      arena.unlink(ringFile);
      if (ok.getInt(4) != 1 || ok.getInt(0) != 1) {
        arena.close();
        arena = null;
      }
    }
    if (rank == 0 && file != null) {
      try {
        java.nio.file.Files.deleteIfExists(file);
      } catch (IOException ignored) {
        // tmpfs: nothing else to do; the mappings keep the memory until the ranks exit
      }
    }
    if (ok.getInt(0) == 1) {
      sharedMemory = ring;
      arenas = arena;
      ring.useArenas(arena);
    }
    sequence = 0; // the set-up's collectives are not the user's: numbering starts at #0 for them
  }

  /**
   * Called while a shared-memory collective waits: no socket message is due then, so a readable socket
   * means the peer closed its connection (it died or failed) or sent an abort; either fails this rank now
   * instead of at the timeout.
   */
  private void checkPeers(long seq, long bytes, String what) {
    if (closed) {
      throw new CollectiveException("rank " + rank + ": the process group was closed during collective #" + seq
          + " " + what);
    }
    if (Thread.currentThread().isInterrupted()) {
      throw new CollectiveException("rank " + rank + ": interrupted during collective #" + seq + " " + what);
    }
    try {
      for (int p = 0; p < worldSize; p++) {
        if (p != rank && keys[p].interestOps() != SelectionKey.OP_READ) {
          keys[p].interestOps(SelectionKey.OP_READ);
        }
      }
      if (selector.selectNow() == 0) {
        return;
      }
      selector.selectedKeys().clear();
      for (int p = 0; p < worldSize; p++) {
        ByteBuffer early = pushback[p];
        if (p == rank || !early.hasRemaining()) {
          continue;
        }
        // Keep what arrives: it may be the header of the peer's next message, read by the next receive.
        if (channels[p].read(early) < 0) {
          throw new CollectiveException("rank " + rank + ": rank " + p + " closed its connection during collective #"
              + seq + " " + what + " (it failed or was stopped; see its log)");
        }
        if (!early.hasRemaining() && early.getInt(4) == Op.ABORT.ordinal()) {
          Transfer t = Transfer.recv(p, Op.ABORT, -1, ByteBuffer.allocate(0), 1, null);
          long deadline = System.nanoTime() + 1_000_000_000L;
          while (System.nanoTime() < deadline) {
            Op op = what.startsWith("BROADCAST") ? Op.BROADCAST
                : what.equals("ALL_GATHER") ? Op.ALL_GATHER : Op.ALL_REDUCE;
            if (!read(op, seq, t)) { // throws the peer's abort once its text is in
              Thread.onSpinWait();
            }
          }
          throw new CollectiveException("rank " + rank + ": rank " + p + " aborted during collective #" + seq
              + " " + what);
        }
        // The peer runs this very collective over the sockets: it issued another one than this rank.
        if (!early.hasRemaining() && early.getLong(8) == seq && early.getInt(4) != Op.SEND_RECV.ordinal()) {
          throw new CollectiveException("rank " + rank + ": collectives issued out of order: rank " + p
              + " sent collective #" + seq + " " + Op.name(early.getInt(4)) + " of " + early.getLong(16)
              + " bytes, but rank " + rank + " expects collective #" + seq + " " + what + " of " + bytes
              + " bytes (every rank must issue the same collectives, with the same sizes, in the same order)");
        }
      }
    } catch (IOException e) {
      throw new CollectiveException("rank " + rank + ": lost a connection during collective #" + seq
          + " " + what + ": " + e.getMessage(), e);
    }
  }

  boolean usesSharedMemory() {
    return sharedMemory != null;
  }

  /** All-reduces so far that reduced straight from the peers' registered buffers. */
  long inPlaceAllReduces() {
    return sharedMemory == null ? 0 : sharedMemory.inPlaceCollectives;
  }

  @Override
  public ByteBuffer allocate(int bytes) {
    if (bytes < 0) {
      throw new IllegalArgumentException("cannot allocate " + bytes + " bytes");
    }
    ByteBuffer b = arenas == null || closed ? null : arenas.allocate(bytes);
    return b != null ? b : ByteBuffer.allocateDirect(bytes).order(java.nio.ByteOrder.nativeOrder());
  }

  @Override
  public boolean isRegistered(ByteBuffer buffer) {
    return arenas != null && arenas.offsetOf(buffer) >= 0;
  }

  // ---------------------------------------------------------------- public collectives

  @Override
  public void allReduce(ByteBuffer buffer, ElementType type, ReduceOp op) {
    Buffers.checkElements("all-reduce", buffer, type);
    blocking(() -> doAllReduce(buffer, type, op));
  }

  @Override
  public CompletableFuture<Void> allReduceAsync(ByteBuffer buffer, ElementType type, ReduceOp op) {
    Buffers.checkElements("all-reduce", buffer, type);
    return async(() -> doAllReduce(buffer, type, op));
  }

  @Override
  public void broadcast(ByteBuffer buffer, ElementType type, int root) {
    checkBroadcast(buffer, type, root);
    blocking(() -> doBroadcast(buffer, root));
  }

  @Override
  public CompletableFuture<Void> broadcastAsync(ByteBuffer buffer, ElementType type, int root) {
    checkBroadcast(buffer, type, root);
    return async(() -> doBroadcast(buffer, root));
  }

  @Override
  public void allGather(ByteBuffer input, ByteBuffer output, ElementType type) {
    checkGather(input, output, type);
    blocking(() -> doAllGather(input, output));
  }

  @Override
  public CompletableFuture<Void> allGatherAsync(ByteBuffer input, ByteBuffer output, ElementType type) {
    checkGather(input, output, type);
    return async(() -> doAllGather(input, output));
  }

  @Override
  public void reduceScatter(ByteBuffer input, ByteBuffer output, ElementType type, ReduceOp op) {
    checkScatter(input, output, type);
    blocking(() -> doReduceScatter(input, output, type, op));
  }

  @Override
  public CompletableFuture<Void> reduceScatterAsync(ByteBuffer input, ByteBuffer output, ElementType type,
      ReduceOp op) {
    checkScatter(input, output, type);
    return async(() -> doReduceScatter(input, output, type, op));
  }

  @Override
  public void barrier() {
    blocking(this::doBarrier);
  }

  @Override
  public CompletableFuture<Void> barrierAsync() {
    return async(this::doBarrier);
  }

  @Override
  public void send(ByteBuffer buffer, ElementType type, int dst) {
    checkPeer("send", buffer, type, dst);
    blocking(() -> doSend(buffer, dst));
  }

  @Override
  public CompletableFuture<Void> sendAsync(ByteBuffer buffer, ElementType type, int dst) {
    checkPeer("send", buffer, type, dst);
    return async(() -> doSend(buffer, dst));
  }

  @Override
  public void recv(ByteBuffer buffer, ElementType type, int src) {
    checkPeer("recv", buffer, type, src);
    blocking(() -> doRecv(buffer, src));
  }

  @Override
  public CompletableFuture<Void> recvAsync(ByteBuffer buffer, ElementType type, int src) {
    checkPeer("recv", buffer, type, src);
    return async(() -> doRecv(buffer, src));
  }

  // ---------------------------------------------------------------- argument checks

  private void checkBroadcast(ByteBuffer buffer, ElementType type, int root) {
    Buffers.checkElements("broadcast", buffer, type);
    Buffers.checkRank("broadcast root", root, worldSize);
  }

  private void checkGather(ByteBuffer input, ByteBuffer output, ElementType type) {
    int bytes = Buffers.checkElements("all-gather input", input, type);
    if ((long) bytes * worldSize != output.remaining()) {
      throw new IllegalArgumentException("all-gather output holds " + output.remaining() + " bytes; expected "
          + worldSize + " x " + bytes + " = " + (long) bytes * worldSize);
    }
  }

  private void checkScatter(ByteBuffer input, ByteBuffer output, ElementType type) {
    int bytes = Buffers.checkElements("reduce-scatter output", output, type);
    if ((long) bytes * worldSize != input.remaining()) {
      throw new IllegalArgumentException("reduce-scatter input holds " + input.remaining()
          + " bytes; expected " + worldSize + " x " + bytes + " = " + (long) bytes * worldSize);
    }
  }

  private void checkPeer(String what, ByteBuffer buffer, ElementType type, int peer) {
    Buffers.checkElements(what, buffer, type);
    Buffers.checkRank(what + " peer", peer, worldSize);
    if (peer == rank) {
      throw new IllegalArgumentException(what + ": rank " + rank + " cannot exchange with itself");
    }
  }

  // ---------------------------------------------------------------- ordering of blocking and async calls

  private interface Step {
    void run() throws IOException;
  }

  private void blocking(Step step) {
    CompletableFuture<Void> tail;
    synchronized (this) {
      tail = asyncTail;
    }
    if (!tail.isDone()) {
      tail.handle((v, e) -> null).join(); // earlier asynchronous collectives go first
    }
    execute(step);
  }

  private synchronized CompletableFuture<Void> async(Step step) {
    if (asyncThread == null) {
      asyncThread = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "sparkformers-process-group-rank-" + rank);
        t.setDaemon(true);
        return t;
      });
    }
    CompletableFuture<Void> f = asyncTail.handle((v, e) -> (Void) null)
        .thenRunAsync(() -> execute(step), asyncThread);
    asyncTail = f;
    return f;
  }

  private void execute(Step step) {
    opLock.lock();
    try {
      if (failure != null) {
        throw new CollectiveException("rank " + rank + ": the process group failed earlier: "
            + failure.getMessage(), failure);
      }
      if (closed) {
        throw new CollectiveException("rank " + rank + ": the process group is closed");
      }
      step.run();
    } catch (CollectiveException e) {
      fail(e);
      throw e;
    } catch (IOException | RuntimeException e) {
      CollectiveException ce = new CollectiveException("rank " + rank + ": collective failed: " + e, e);
      fail(ce);
      throw ce;
    } finally {
      opLock.unlock();
    }
  }

  /** Remembers the first failure and closes every connection, so that peers fail now, not at their timeout. */
  private void fail(RuntimeException e) {
    boolean first = failure == null;
    if (first) {
      failure = e;
      tellPeersWhy(e);
    }
    closeChannels();
    // A channel registered with a selector is only really closed when the selector deregisters it; closing
    // the selector does that now, so that peers see the connection end instead of waiting for their timeout.
    TcpBackend.closeQuietly(selector);
  }

  // ---------------------------------------------------------------- algorithms

  private void doAllReduce(ByteBuffer buffer, ElementType type, ReduceOp op) throws IOException {
    long seq = sequence++;
    int bytes = buffer.remaining();
    if (worldSize == 1 || bytes == 0) {
      return;
    }
    ByteBuffer data = Reducer.view(buffer, buffer.position(), bytes);
    int count = bytes / type.bytes();
    if (sharedMemory != null) {
      // Same host: shared memory at every size (a phase costs less than a socket round trip).
      sharedMemory.allReduce(data, type, op, seq, registeredOffset(buffer));
    } else if (bytes >= options.ringThresholdBytes() && count >= worldSize) {
      int[] seg = segments(count, type.bytes());
      ringReduceScatter(data, seg, type, op, Op.ALL_REDUCE, seq);
      if (op == ReduceOp.AVG) {
        reducer.divide(type, data, seg[rank], seg[rank + 1] - seg[rank], worldSize);
      }
      ringAllGather(data, seg, Op.ALL_REDUCE, seq);
    } else {
      recursiveDoubling(data, type, op, seq);
    }
  }

  /** Where {@code buffer}'s position lies in this rank's arena if {@link #allocate} made it, else -1. */
  private long registeredOffset(ByteBuffer buffer) {
    long at = arenas == null ? -1 : arenas.offsetOf(buffer);
    return at < 0 ? -1 : at + buffer.position();
  }

  /** Byte offsets of the ring's segments: element-aligned, sizes differing by at most one element. */
  private int[] segments(int count, int elementBytes) {
    int[] seg = new int[worldSize + 1];
    for (int i = 0; i <= worldSize; i++) {
      seg[i] = (int) ((long) count * i / worldSize) * elementBytes;
    }
    return seg;
  }

  private int mod(int i) {
    return ((i % worldSize) + worldSize) % worldSize;
  }

  /**
   * Ring reduce-scatter in place: in step s rank r sends segment r-s-1 to its right neighbour and receives
   * segment r-s-2 from its left one, reducing it as it arrives; after N-1 steps segment r is complete here.
   */
  private void ringReduceScatter(ByteBuffer data, int[] seg, ElementType type, ReduceOp op, Op code, long seq)
      throws IOException {
    int left = mod(rank - 1);
    int right = mod(rank + 1);
    int maxSeg = 0;
    for (int i = 0; i < worldSize; i++) {
      maxSeg = Math.max(maxSeg, seg[i + 1] - seg[i]);
    }
    ByteBuffer in = scratch(maxSeg);
    for (int s = 0; s < worldSize - 1; s++) {
      int sendSeg = mod(rank - s - 1);
      int recvSeg = mod(rank - s - 2);
      int recvBytes = seg[recvSeg + 1] - seg[recvSeg];
      int base = seg[recvSeg];
      ByteBuffer inView = Reducer.view(in, 0, recvBytes);
      List<Transfer> t = new ArrayList<>(2);
      t.add(Transfer.send(right, code, seq, Reducer.view(data, seg[sendSeg], seg[sendSeg + 1] - seg[sendSeg])));
      t.add(Transfer.recv(left, code, seq, inView, type.bytes(),
          (from, to) -> reducer.reduce(type, op, inView, from, data, base + from, to - from)));
      progress(code, seq, t);
    }
  }

  /** Ring all-gather in place: in step s rank r sends segment r-s and receives segment r-s-1. */
  private void ringAllGather(ByteBuffer data, int[] seg, Op code, long seq) throws IOException {
    int left = mod(rank - 1);
    int right = mod(rank + 1);
    for (int s = 0; s < worldSize - 1; s++) {
      int sendSeg = mod(rank - s);
      int recvSeg = mod(rank - s - 1);
      List<Transfer> t = new ArrayList<>(2);
      t.add(Transfer.send(right, code, seq, Reducer.view(data, seg[sendSeg], seg[sendSeg + 1] - seg[sendSeg])));
      t.add(Transfer.recv(left, code, seq, Reducer.view(data, seg[recvSeg], seg[recvSeg + 1] - seg[recvSeg]),
          1, null));
      progress(code, seq, t);
    }
  }

  /**
   * Recursive doubling: log2(N) exchanges of the whole buffer with rank XOR 2^k. Ranks above the largest
   * power of two first fold their data into a partner and get the result back at the end. Each rank computes
   * op(mine, theirs), which is commutative element by element, so every rank ends with the same bits.
   */
  private void recursiveDoubling(ByteBuffer data, ElementType type, ReduceOp op, long seq) throws IOException {
    int bytes = data.remaining();
    int pow2 = Integer.highestOneBit(worldSize);
    int extra = worldSize - pow2;
    if (rank >= pow2) {
      progress(Op.ALL_REDUCE, seq, List.of(Transfer.send(rank - pow2, Op.ALL_REDUCE, seq, data)));
      progress(Op.ALL_REDUCE, seq, List.of(Transfer.recv(rank - pow2, Op.ALL_REDUCE, seq, data, 1, null)));
      return;
    }
    ByteBuffer in = Reducer.view(scratch(bytes), 0, bytes);
    if (rank < extra) {
      progress(Op.ALL_REDUCE, seq, List.of(Transfer.recv(rank + pow2, Op.ALL_REDUCE, seq, in, 1, null)));
      reducer.reduce(type, op, in, 0, data, 0, bytes);
    }
    for (int mask = 1; mask < pow2; mask <<= 1) {
      int partner = rank ^ mask;
      // The buffer is being sent while the partner's arrives: reduce only once both are done.
      progress(Op.ALL_REDUCE, seq, List.of(Transfer.send(partner, Op.ALL_REDUCE, seq, data),
          Transfer.recv(partner, Op.ALL_REDUCE, seq, in, 1, null)));
      reducer.reduce(type, op, in, 0, data, 0, bytes);
    }
    if (op == ReduceOp.AVG) {
      reducer.divide(type, data, 0, bytes, worldSize);
    }
    if (rank < extra) {
      progress(Op.ALL_REDUCE, seq, List.of(Transfer.send(rank + pow2, Op.ALL_REDUCE, seq, data)));
    }
  }

  private void doBroadcast(ByteBuffer buffer, int root) throws IOException {
    long seq = sequence++;
    if (worldSize == 1) {
      return;
    }
    ByteBuffer data = Reducer.view(buffer, buffer.position(), buffer.remaining());
    if (sharedMemory != null) {
      sharedMemory.broadcast(data, root, seq, registeredOffset(buffer));
      return;
    }
    List<Transfer> t = new ArrayList<>();
    if (rank == root) {
      for (int p = 0; p < worldSize; p++) {
        if (p != rank) {
          t.add(Transfer.send(p, Op.BROADCAST, seq, data));
        }
      }
    } else {
      t.add(Transfer.recv(root, Op.BROADCAST, seq, data, 1, null));
    }
    progress(Op.BROADCAST, seq, t);
  }

  /** Every rank sends its block to every other rank directly: the same bytes per rank as a ring, less latency. */
  private void doAllGather(ByteBuffer input, ByteBuffer output) throws IOException {
    long seq = sequence++;
    int bytes = input.remaining();
    if (sharedMemory != null && worldSize > 1) {
      sharedMemory.allGather(Reducer.view(input, input.position(), bytes),
          Reducer.view(output, output.position(), output.remaining()), seq, registeredOffset(input));
      return;
    }
    Buffers.copy(input, input.position(), output, output.position() + rank * bytes, bytes);
    if (worldSize == 1) {
      return;
    }
    ByteBuffer mine = Reducer.view(input, input.position(), bytes);
    List<Transfer> t = new ArrayList<>();
    for (int i = 1; i < worldSize; i++) {
      // Staggered peer order: rank r talks to r+1 first, spreading the load.
      int p = mod(rank + i);
      t.add(Transfer.send(p, Op.ALL_GATHER, seq, mine));
      int q = mod(rank - i);
      t.add(Transfer.recv(q, Op.ALL_GATHER, seq, Reducer.view(output, output.position() + q * bytes, bytes), 1,
          null));
    }
    progress(Op.ALL_GATHER, seq, t);
  }

  private void doReduceScatter(ByteBuffer input, ByteBuffer output, ElementType type, ReduceOp op)
      throws IOException {
    long seq = sequence++;
    int block = output.remaining();
    int total = input.remaining();
    if (worldSize > 1 && block > 0) {
      // The ring reduces in place: work on a copy so that the caller's input stays as it was.
      ByteBuffer data = Reducer.view(work(total), 0, total);
      Buffers.copy(input, input.position(), data, 0, total);
      int[] seg = new int[worldSize + 1];
      for (int i = 0; i <= worldSize; i++) {
        seg[i] = i * block;
      }
      ringReduceScatter(data, seg, type, op, Op.REDUCE_SCATTER, seq);
      Buffers.copy(data, rank * block, output, output.position(), block);
    } else {
      Buffers.copy(input, input.position() + rank * block, output, output.position(), block);
    }
    if (op == ReduceOp.AVG) {
      reducer.divide(type, output, output.position(), block, worldSize);
    }
  }

  private void doBarrier() throws IOException {
    long seq = sequence++;
    ByteBuffer empty = ByteBuffer.allocate(0);
    List<Transfer> t = new ArrayList<>();
    for (int p = 0; p < worldSize; p++) {
      if (p != rank) {
        t.add(Transfer.send(p, Op.BARRIER, seq, empty));
        t.add(Transfer.recv(p, Op.BARRIER, seq, empty, 1, null));
      }
    }
    progress(Op.BARRIER, seq, t);
  }

  private void doSend(ByteBuffer buffer, int dst) throws IOException {
    long seq = p2pSent[dst]++;
    progress(Op.SEND_RECV, seq, List.of(Transfer.send(dst, Op.SEND_RECV, seq,
        Reducer.view(buffer, buffer.position(), buffer.remaining()))));
  }

  private void doRecv(ByteBuffer buffer, int src) throws IOException {
    long seq = p2pReceived[src]++;
    progress(Op.SEND_RECV, seq, List.of(Transfer.recv(src, Op.SEND_RECV, seq,
        Reducer.view(buffer, buffer.position(), buffer.remaining()), 1, null)));
  }

  private ByteBuffer scratch(int bytes) {
    if (scratch.capacity() < bytes) {
      scratch = ByteBuffer.allocateDirect(bytes);
    }
    return scratch;
  }

  private ByteBuffer work(int bytes) {
    if (work.capacity() < bytes) {
      work = ByteBuffer.allocateDirect(bytes);
    }
    return work;
  }

  // ---------------------------------------------------------------- the progress loop

  /** Called with element-aligned byte ranges of a receive as they arrive. */
  interface Arrived {
    void accept(int from, int to);
  }

  /** One message to send to, or receive from, one peer. */
  static final class Transfer {
    final int peer;
    final boolean send;
    final ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES);
    final ByteBuffer payload;
    final ByteBuffer[] parts;
    final int opcode;
    final long seq;
    final int elementBytes;
    final Arrived arrived;
    int delivered;
    ByteBuffer abortText;

    private Transfer(int peer, boolean send, Op op, long seq, ByteBuffer payload, int elementBytes,
        Arrived arrived) {
      this.peer = peer;
      this.send = send;
      this.opcode = op.ordinal();
      this.seq = seq;
      this.payload = payload.duplicate();
      this.elementBytes = elementBytes;
      this.arrived = arrived;
      if (send) {
        header.putInt(MAGIC).putInt(opcode).putLong(seq).putLong(payload.remaining()).flip();
        this.parts = new ByteBuffer[] {header, this.payload};
      } else {
        this.parts = null;
      }
    }

    static Transfer send(int peer, Op op, long seq, ByteBuffer payload) {
      return new Transfer(peer, true, op, seq, payload, 1, null);
    }

    static Transfer recv(int peer, Op op, long seq, ByteBuffer into, int elementBytes, Arrived arrived) {
      return new Transfer(peer, false, op, seq, into, elementBytes, arrived);
    }

    boolean done() {
      return !header.hasRemaining() && !payload.hasRemaining() && abortText == null;
    }

    int expectedBytes() {
      return payload.limit();
    }
  }

  /** Advances every transfer until all are done, the timeout passes, or a peer fails. */
  private void progress(Op op, long seq, List<Transfer> transfers) throws IOException {
    @SuppressWarnings("unchecked")
    ArrayDeque<Transfer>[] sends = new ArrayDeque[worldSize];
    @SuppressWarnings("unchecked")
    ArrayDeque<Transfer>[] recvs = new ArrayDeque[worldSize];
    for (Transfer t : transfers) {
      ArrayDeque<Transfer>[] q = t.send ? sends : recvs;
      if (q[t.peer] == null) {
        q[t.peer] = new ArrayDeque<>(2);
      }
      q[t.peer].add(t);
    }
    int pending = transfers.size();
    long deadline = System.nanoTime() + timeoutNanos;
    while (pending > 0) {
      boolean moved = false;
      for (int p = 0; p < worldSize; p++) {
        ArrayDeque<Transfer> sq = sends[p];
        while (sq != null && !sq.isEmpty()) {
          Transfer t = sq.peekFirst();
          long n;
          try {
            n = channels[p].write(t.parts);
          } catch (IOException e) {
            throw peerGone(op, seq, p, e);
          }
          moved |= n > 0;
          if (t.header.hasRemaining() || t.payload.hasRemaining()) {
            sendInProgress[p] = t.header.position() > 0;
            break;
          }
          sendInProgress[p] = false;
          sq.pollFirst();
          pending--;
        }
        ArrayDeque<Transfer> rq = recvs[p];
        while (rq != null && !rq.isEmpty()) {
          Transfer t = rq.peekFirst();
          moved |= read(op, seq, t);
          if (!t.done()) {
            break;
          }
          rq.pollFirst();
          pending--;
        }
      }
      if (pending > 0 && !moved) {
        await(op, seq, sends, recvs, deadline);
      }
    }
  }

  /** Reads what has arrived for {@code t}; returns whether anything was read. */
  private boolean read(Op op, long seq, Transfer t) throws IOException {
    SocketChannel ch = channels[t.peer];
    boolean moved = false;
    boolean headerArrived = false;
    ByteBuffer early = pushback[t.peer];
    if (early.position() > 0 && t.header.position() == 0) {
      t.header.put(early.flip());
      early.clear();
      moved = true;
      headerArrived = !t.header.hasRemaining();
    }
    if (t.header.hasRemaining()) {
      int n = readFrom(ch, t.header, op, seq, t.peer);
      moved |= n > 0;
      if (t.header.hasRemaining()) {
        return moved;
      }
      headerArrived = true;
    }
    if (headerArrived) {
      checkHeader(op, seq, t);
    }
    if (t.abortText != null) {
      moved |= readFrom(ch, t.abortText, op, seq, t.peer) > 0;
      if (!t.abortText.hasRemaining()) {
        String text = new String(t.abortText.array(), 0, t.abortText.position(), StandardCharsets.UTF_8);
        throw new CollectiveException("rank " + rank + ": rank " + t.peer + " aborted during collective #" + seq
            + " " + op + ": " + text);
      }
      return moved;
    }
    if (t.payload.hasRemaining()) {
      moved |= readFrom(ch, t.payload, op, seq, t.peer) > 0;
    }
    if (t.arrived != null) {
      int got = t.payload.position();
      boolean complete = !t.payload.hasRemaining();
      if (complete || got - t.delivered >= REDUCE_CHUNK_BYTES) {
        int upTo = complete ? got : got - got % t.elementBytes;
        if (upTo > t.delivered) {
          t.arrived.accept(t.delivered, upTo);
          t.delivered = upTo;
        }
      }
    }
    return moved;
  }

  private int readFrom(SocketChannel ch, ByteBuffer into, Op op, long seq, int peer) {
    int n;
    try {
      n = ch.read(into);
    } catch (IOException e) {
      throw peerGone(op, seq, peer, e);
    }
    if (n < 0) {
      throw new CollectiveException("rank " + rank + ": rank " + peer + " closed its connection during collective #"
          + seq + " " + op + " (it failed or was stopped; see its log)");
    }
    return n;
  }

  private void checkHeader(Op op, long seq, Transfer t) {
    ByteBuffer h = t.header;
    int magic = h.getInt(0);
    int code = h.getInt(4);
    long theirSeq = h.getLong(8);
    long theirBytes = h.getLong(16);
    if (magic != MAGIC) {
      throw new CollectiveException(String.format("rank %d: rank %d sent a corrupt message header (0x%08x)",
          rank, t.peer, magic));
    }
    if (code == Op.ABORT.ordinal()) {
      t.abortText = ByteBuffer.allocate((int) Math.min(MAX_ABORT_TEXT, Math.max(0, theirBytes)));
      return;
    }
    if (code != t.opcode || theirSeq != t.seq || theirBytes != t.expectedBytes()) {
      String kind = op == Op.SEND_RECV ? "point-to-point message" : "collective";
      throw new CollectiveException("rank " + rank + ": collectives issued out of order: rank " + t.peer
          + " sent " + kind + " #" + theirSeq + " " + Op.name(code) + " of " + theirBytes + " bytes, but rank "
          + rank + " expects " + kind + " #" + t.seq + " " + Op.name(t.opcode) + " of " + t.expectedBytes()
          + " bytes (every rank must issue the same collectives, with the same sizes, in the same order)");
    }
  }

  private void await(Op op, long seq, ArrayDeque<Transfer>[] sends, ArrayDeque<Transfer>[] recvs, long deadline)
      throws IOException {
    long left = deadline - System.nanoTime();
    if (left <= 0) {
      throw timedOut(op, seq, sends, recvs);
    }
    if (closed) {
      throw new CollectiveException("rank " + rank + ": the process group was closed during collective #" + seq
          + " " + op);
    }
    // An interrupted thread's select returns at once: without this the wait would spin until the timeout.
    if (Thread.currentThread().isInterrupted()) {
      throw new CollectiveException("rank " + rank + ": interrupted during collective #" + seq + " " + op);
    }
    watchdog.waiting(deadline - timeoutNanos, seq, op.name(), () -> awaitedRanks(sends, recvs));
    for (int p = 0; p < worldSize; p++) {
      if (p == rank) {
        continue;
      }
      int interest = 0;
      if (sends[p] != null && !sends[p].isEmpty()) {
        interest |= SelectionKey.OP_WRITE;
      }
      if (recvs[p] != null && !recvs[p].isEmpty()) {
        interest |= SelectionKey.OP_READ;
      }
      if (keys[p].interestOps() != interest) {
        keys[p].interestOps(interest);
      }
    }
    // Wake at the watchdog's interval at least, to say what this rank waits for.
    selector.select(Math.max(1, Math.min(left, watchdogIntervalNanos) / 1_000_000));
    selector.selectedKeys().clear();
  }

  /** The ranks a wait is for: those whose message has not arrived, or that do not read what this rank sends. */
  private String awaitedRanks(ArrayDeque<Transfer>[] sends, ArrayDeque<Transfer>[] recvs) {
    List<String> ranks = new ArrayList<>();
    for (int p = 0; p < worldSize; p++) {
      if ((recvs[p] != null && !recvs[p].isEmpty()) || (sends[p] != null && !sends[p].isEmpty())) {
        ranks.add(Integer.toString(p));
      }
    }
    return (ranks.size() == 1 ? "rank " : "ranks ") + String.join(", ", ranks);
  }

  private CollectiveException timedOut(Op op, long seq, ArrayDeque<Transfer>[] sends,
      ArrayDeque<Transfer>[] recvs) {
    List<String> waiting = new ArrayList<>();
    List<Integer> ranks = new ArrayList<>();
    for (int p = 0; p < worldSize; p++) {
      if (recvs[p] != null && !recvs[p].isEmpty()) {
        Transfer t = recvs[p].peekFirst();
        waiting.add("rank " + p + " (received " + (HEADER_BYTES - t.header.remaining() + t.payload.position())
            + " of " + (HEADER_BYTES + t.expectedBytes()) + " bytes)");
        ranks.add(p);
      } else if (sends[p] != null && !sends[p].isEmpty()) {
        waiting.add("rank " + p + " (not reading what this rank sends)");
        ranks.add(p);
      }
    }
    return new CollectiveException("rank " + rank + ": collective #" + seq + " " + op + " timed out after "
        + options.timeout() + " waiting for " + String.join(", ", waiting)
        + "; that rank is stuck, dead, or issued other collectives", ranks);
  }

  private CollectiveException peerGone(Op op, long seq, int peer, IOException e) {
    return new CollectiveException("rank " + rank + ": lost the connection to rank " + peer + " during collective #"
        + seq + " " + op + ": " + e.getMessage() + " (it failed or was stopped; see its log)", e);
  }

  // ---------------------------------------------------------------- abort and close

  @Override
  public void abort(Throwable cause) {
    if (opLock.tryLock()) {
      try {
        if (failure == null && !closed) {
          byte[] text = (cause == null ? "aborted" : cause.toString()).getBytes(StandardCharsets.UTF_8);
          ByteBuffer payload = ByteBuffer.wrap(text, 0, Math.min(text.length, MAX_ABORT_TEXT));
          long deadline = System.nanoTime() + Math.min(timeoutNanos, 2_000_000_000L);
          for (int p = 0; p < worldSize; p++) {
            if (p != rank) {
              sendBestEffort(p, payload.duplicate(), deadline);
            }
          }
        }
      } finally {
        opLock.unlock();
      }
    }
    close();
  }

  /**
   * Sends the failure as an ABORT to every peer this rank is not in the middle of a message to (a header there
   * would land inside the payload), with one non-blocking write each: a peer waiting on this rank then fails
   * quoting the cause (say, "rank 2 closed its connection") instead of blaming this rank, which only closed.
   */
  private void tellPeersWhy(RuntimeException e) {
    byte[] text = String.valueOf(e.getMessage()).getBytes(StandardCharsets.UTF_8);
    for (int p = 0; p < worldSize; p++) {
      if (p == rank || sendInProgress[p] || channels[p] == null || !channels[p].isOpen()) {
        continue;
      }
      ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES);
      int len = Math.min(text.length, MAX_ABORT_TEXT);
      header.putInt(MAGIC).putInt(Op.ABORT.ordinal()).putLong(-1).putLong(len).flip();
      try {
        channels[p].write(new ByteBuffer[] {header, ByteBuffer.wrap(text, 0, len)});
      } catch (IOException | RuntimeException ignored) {
        // that peer is gone already
      }
    }
  }

  private void sendBestEffort(int peer, ByteBuffer text, long deadline) {
    ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES);
    header.putInt(MAGIC).putInt(Op.ABORT.ordinal()).putLong(-1).putLong(text.remaining()).flip();
    ByteBuffer[] parts = {header, text};
    try {
      while ((header.hasRemaining() || text.hasRemaining()) && System.nanoTime() < deadline) {
        if (channels[peer].write(parts) == 0) {
          Thread.sleep(1);
        }
      }
    } catch (IOException e) {
      // The peer is gone already; nothing to tell it.
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void closeChannels() {
    for (SocketChannel c : channels) {
      if (c != null && c.isOpen()) {
        try {
          c.shutdownOutput(); // the FIN goes out at once, even while the channel is still registered
        } catch (IOException | RuntimeException ignored) {
          // already reset by the peer
        }
      }
      TcpBackend.closeQuietly(c);
    }
  }

  @Override
  public void close() {
    ExecutorService executor;
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
      executor = asyncThread;
    }
    closeChannels();
    TcpBackend.closeQuietly(selector);
    if (arenas != null) {
      arenas.close();
    }
    if (executor != null) {
      executor.shutdown();
    }
  }
}
