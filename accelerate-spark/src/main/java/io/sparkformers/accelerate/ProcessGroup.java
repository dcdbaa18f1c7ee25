package io.sparkformers.accelerate;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/**
 * The ranks of one job and the collectives between them. Buffers are direct, in native byte order, and hold
 * {@code count} elements of the given type from their position to their limit; results are written back in
 * place and the buffers' positions and limits are left as they were.
 *
 * <p>Every rank must issue the same collectives in the same order (DDP relies on it). Each message carries
 * the collective's sequence number: a rank that issues another collective, or another size, fails every
 * rank with a {@link CollectiveException} that says what each side issued. A rank that does not answer
 * within {@link #timeout()} fails the others with an error naming it; a group that failed once stays
 * failed (open a new one).
 *
 * <p>A group is used by one thread at a time. The {@code ...Async} variants run on the group's own thread,
 * in the order they were issued, interleaved correctly with blocking calls issued after them; a buffer
 * handed to an asynchronous collective must not be touched until its future completes.
 *
 * <p>Open one with {@link ProcessGroups} (one rank, or torchrun-style environment variables) or get one from
 * {@link BarrierLauncher} inside a Spark barrier stage.
 */
public interface ProcessGroup extends AutoCloseable {

  int rank();

  int worldSize();

  /**
   * A direct buffer of {@code bytes} bytes in native byte order for this group's collectives, zero-filled; what
   * NCCL calls a registered user buffer. Where the backend can, it lives in memory every rank on this host
   * maps (the {@code tcp} backend with shared memory on: a per-rank arena in /dev/shm), and an
   * {@link #allReduce} on it reduces straight from the peers' buffers with no staging copies. Elsewhere (one
   * rank, ranks on several hosts, shared memory off or its arena full) it is a plain
   * {@link ByteBuffer#allocateDirect direct buffer}: every collective works on it either way, and
   * {@link #isRegistered} tells which one this is.
   *
   * <p>The fast path needs the buffer object returned here (not a slice or a view of it) on every rank; its
   * position and limit may be moved to reduce a part. The memory lives until the group is closed and the buffer
   * is no longer referenced; allocate buckets once and reuse them.
   *
   * @throws IllegalArgumentException if {@code bytes} is negative
   */
  default ByteBuffer allocate(int bytes) {
    if (bytes < 0) {
      throw new IllegalArgumentException("cannot allocate " + bytes + " bytes");
    }
    return ByteBuffer.allocateDirect(bytes).order(java.nio.ByteOrder.nativeOrder());
  }

  /**
   * Whether {@code buffer} is a buffer {@link #allocate} returned in memory the peers on this host map, so that
   * an all-reduce on it, when every rank passes such a buffer, skips the staging copies.
   */
  default boolean isRegistered(ByteBuffer buffer) {
    return false;
  }

  /** Reduces {@code buffer} over all ranks in place. */
  void allReduce(ByteBuffer buffer, ElementType type, ReduceOp op);

  /** {@link #allReduce} without blocking; the buffer must not be touched until the future completes. */
  CompletableFuture<Void> allReduceAsync(ByteBuffer buffer, ElementType type, ReduceOp op);

  /** Copies {@code root}'s buffer into every other rank's buffer. */
  void broadcast(ByteBuffer buffer, ElementType type, int root);

  /**
   * Gathers every rank's {@code input} into {@code output}, rank by rank ({@code output} holds
   * {@code worldSize()} times {@code input}'s remaining bytes).
   */
  void allGather(ByteBuffer input, ByteBuffer output, ElementType type);

  /**
   * Reduces {@code input} (which holds {@code worldSize()} equal blocks of {@code output}'s size) over all
   * ranks and leaves block {@code rank()} of the result in {@code output}; {@code input} is not modified.
   */
  void reduceScatter(ByteBuffer input, ByteBuffer output, ElementType type, ReduceOp op);

  /** Returns when every rank has called it. */
  void barrier();

  /**
   * Sends {@code buffer} to rank {@code dst}, which must call {@link #recv} with the same size. Point to
   * point messages are ordered per pair of ranks and do not count as collectives for the other ranks.
   */
  void send(ByteBuffer buffer, ElementType type, int dst);

  /** Receives into {@code buffer} what rank {@code src} sent with {@link #send}. */
  void recv(ByteBuffer buffer, ElementType type, int src);

  /** {@link #broadcast} without blocking. */
  CompletableFuture<Void> broadcastAsync(ByteBuffer buffer, ElementType type, int root);

  /** {@link #allGather} without blocking. */
  CompletableFuture<Void> allGatherAsync(ByteBuffer input, ByteBuffer output, ElementType type);

  /** {@link #reduceScatter} without blocking. */
  CompletableFuture<Void> reduceScatterAsync(ByteBuffer input, ByteBuffer output, ElementType type, ReduceOp op);

  /** {@link #barrier} without blocking. */
  CompletableFuture<Void> barrierAsync();

  /** {@link #send} without blocking. */
  CompletableFuture<Void> sendAsync(ByteBuffer buffer, ElementType type, int dst);

  /** {@link #recv} without blocking. */
  CompletableFuture<Void> recvAsync(ByteBuffer buffer, ElementType type, int src);

  /** How long a collective waits for a peer before it fails. */
  Duration timeout();

  /**
   * Tells the other ranks that this rank failed with {@code cause} (best effort: they fail with an error
   * naming this rank and quoting the cause instead of waiting for their timeout), then closes the group.
   * Call it between collectives, from the thread that uses the group.
   */
  void abort(Throwable cause);

  @Override
  void close();
}
