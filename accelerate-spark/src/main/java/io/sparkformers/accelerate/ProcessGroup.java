package io.sparkformers.accelerate;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;

/**
 * The ranks of one job and the collectives between them. Buffers are direct, in native byte order, and hold
 * {@code count} elements of the given type from their position; results are written back in place.
 * Every rank must issue the same collectives in the same order; a mismatch or a rank that does not answer
 * within the group's timeout fails every rank with an error naming the rank.
 *
 * <p>This is the contract the Trainer is written against; the TCP backend, the launcher and
 * {@code Accelerator} implement and use it.
 */
public interface ProcessGroup extends AutoCloseable {

  int rank();

  int worldSize();

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

  /** Returns when every rank has called it. */
  void barrier();

  @Override
  void close();
}
