package io.sparkformers.accelerate.internal;

import io.sparkformers.accelerate.ElementType;
import io.sparkformers.accelerate.ProcessGroup;
import io.sparkformers.accelerate.ReduceOp;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/** A group of one: collectives are copies or nothing. What a run without Spark trains with. */
public final class SingleRankProcessGroup implements ProcessGroup {

  @Override
  public int rank() {
    return 0;
  }

  @Override
  public int worldSize() {
    return 1;
  }

  @Override
  public void allReduce(ByteBuffer buffer, ElementType type, ReduceOp op) {
    Buffers.checkElements("all-reduce", buffer, type);
  }

  @Override
  public CompletableFuture<Void> allReduceAsync(ByteBuffer buffer, ElementType type, ReduceOp op) {
    return run(() -> allReduce(buffer, type, op));
  }

  @Override
  public void broadcast(ByteBuffer buffer, ElementType type, int root) {
    Buffers.checkElements("broadcast", buffer, type);
    Buffers.checkRank("broadcast root", root, 1);
  }

  @Override
  public void allGather(ByteBuffer input, ByteBuffer output, ElementType type) {
    int bytes = Buffers.checkElements("all-gather input", input, type);
    if (output.remaining() != bytes) {
      throw new IllegalArgumentException("all-gather output holds " + output.remaining()
          + " bytes; expected 1 x " + bytes);
    }
    Buffers.copy(input, input.position(), output, output.position(), bytes);
  }

  @Override
  public void reduceScatter(ByteBuffer input, ByteBuffer output, ElementType type, ReduceOp op) {
    allGather(input, output, type);
  }

  @Override
  public void barrier() {}

  @Override
  public void send(ByteBuffer buffer, ElementType type, int dst) {
    throw new IllegalArgumentException("send to rank " + dst + ": a group of one rank has no peers");
  }

  @Override
  public void recv(ByteBuffer buffer, ElementType type, int src) {
    throw new IllegalArgumentException("recv from rank " + src + ": a group of one rank has no peers");
  }

  @Override
  public CompletableFuture<Void> broadcastAsync(ByteBuffer buffer, ElementType type, int root) {
    return run(() -> broadcast(buffer, type, root));
  }

  @Override
  public CompletableFuture<Void> allGatherAsync(ByteBuffer input, ByteBuffer output, ElementType type) {
    return run(() -> allGather(input, output, type));
  }

  @Override
  public CompletableFuture<Void> reduceScatterAsync(ByteBuffer input, ByteBuffer output, ElementType type,
      ReduceOp op) {
    return run(() -> reduceScatter(input, output, type, op));
  }

  @Override
  public CompletableFuture<Void> barrierAsync() {
    return CompletableFuture.completedFuture(null);
  }

  @Override
  public CompletableFuture<Void> sendAsync(ByteBuffer buffer, ElementType type, int dst) {
    return run(() -> send(buffer, type, dst));
  }

  @Override
  public CompletableFuture<Void> recvAsync(ByteBuffer buffer, ElementType type, int src) {
    return run(() -> recv(buffer, type, src));
  }

  @Override
  public Duration timeout() {
    return Duration.ZERO;
  }

  @Override
  public void abort(Throwable cause) {}

  @Override
  public void close() {}

  private static CompletableFuture<Void> run(Runnable r) {
    try {
      r.run();
      return CompletableFuture.completedFuture(null);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }
}
