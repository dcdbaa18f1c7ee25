package io.sparkformers.training.ddp;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.sparkformers.accelerate.ElementType;
import io.sparkformers.accelerate.ProcessGroup;
import io.sparkformers.accelerate.ReduceOp;
import io.sparkformers.training.internal.NoGrad;
import io.sparkformers.training.internal.Views;
import io.sparkformers.training.optim.Param;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The gradients of a model's float32 parameters grouped into buckets as PyTorch DDP groups them (in reverse
 * parameter order, the order backward produces them; a first bucket of 1 MiB, then {@code bucket_cap_mb}),
 * each with its own direct buffer. {@link #allReduceMean()} copies bucket i+1 while bucket i is on the wire.
 */
public final class GradientBuckets {
  /** PyTorch DDP's {@code _DEFAULT_FIRST_BUCKET_BYTES}. */
  static final long FIRST_BUCKET_BYTES = 1L << 20;

  private final ProcessGroup group;
  private final List<List<Param>> buckets = new ArrayList<>();
  private final List<ByteBuffer> buffers = new ArrayList<>();
  private final CompletableFuture<?>[] inFlight;
  private long allReduceNanos;
  private long copyOutNanos;
  private long copyInNanos;

  public GradientBuckets(List<Param> params, ProcessGroup group, long bucketCapBytes) {
    this.group = group;
    List<Param> current = new ArrayList<>();
    long bytes = 0;
    long cap = Math.min(FIRST_BUCKET_BYTES, bucketCapBytes);
    for (int i = params.size() - 1; i >= 0; i--) {
      Param p = params.get(i);
      if (p.array().getDataType() != ai.djl.ndarray.types.DataType.FLOAT32) {
        throw new IllegalArgumentException("parameter " + p.name() + " is " + p.array().getDataType()
            + "; data-parallel gradients are float32");
      }
      long size = p.array().size() * 4;
      if (!current.isEmpty() && bytes + size > cap) {
        add(current, bytes);
        current = new ArrayList<>();
        bytes = 0;
        cap = bucketCapBytes;
      }
      current.add(p);
      bytes += size;
    }
    if (!current.isEmpty()) {
      add(current, bytes);
    }
    this.inFlight = new CompletableFuture<?>[buckets.size()];
  }

  private void add(List<Param> bucket, long bytes) {
    if (bytes > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("a single parameter over 2 GiB cannot be bucketed");
    }
    buckets.add(List.copyOf(bucket));
    // Allocated by the group: a registered buffer lives in memory the peers on this host map, so the
    // shared-memory all-reduce reduces straight from the peers' buckets, without staging copies.
    buffers.add(group.allocate((int) bytes).order(ByteOrder.nativeOrder()));
  }

  /** How many buckets live in registered memory (all-reduced in place through shared memory, no staging). */
  public int registeredBuckets() {
    return (int) buffers.stream().filter(group::isRegistered).count();
  }

  /** The bucket sizes in bytes, in launch order. */
  public List<Integer> bucketBytes() {
    return buffers.stream().map(ByteBuffer::capacity).toList();
  }

  /**
   * Replaces every gradient by its mean over the ranks: each rank divides by the world size, then the buckets
   * are summed (PyTorch DDP's default hook), so that every rank ends with the same bits. Bucket i+1 is copied
   * out while bucket i is on the wire, and bucket i is copied back while later buckets are on the wire.
   */
  public void allReduceMean() {
    int ws = group.worldSize();
    // One sub-manager per step holds the gradients' Java handles (getGradient makes a new one each call);
    // closing it frees the handles, not the gradients.
    NDManager scratch = buckets.get(0).get(0).array().getManager().newSubManager();
    try (scratch) {
      for (int b = 0; b < buckets.size(); b++) {
        long t0 = System.nanoTime();
        ByteBuffer dst = buffers.get(b).clear();
        for (Param p : buckets.get(b)) {
          NDArray g = p.array().getGradient();
          g.attach(scratch);
          // grad / world_size in place (libtorch, vectorised; the same IEEE quotient as DDP's div_), then a
          // bulk copy of the view into the bucket.
          try (NoGrad ignored = new NoGrad()) {
            g.divi((float) ws);
          }
          dst.put(Views.view(g));
        }
        dst.clear();
        long t1 = System.nanoTime();
        copyOutNanos += t1 - t0;
        inFlight[b] = group.allReduceAsync(dst, ElementType.FLOAT32, ReduceOp.SUM);
        allReduceNanos += System.nanoTime() - t1;
      }
      for (int b = 0; b < buckets.size(); b++) {
        long t1 = System.nanoTime();
        inFlight[b].join();
        inFlight[b] = null;
        long t0 = System.nanoTime();
        allReduceNanos += t0 - t1;
        ByteBuffer src = buffers.get(b).clear();
        for (Param p : buckets.get(b)) {
          NDArray g = p.array().getGradient();
          g.attach(scratch);
          ByteBuffer view = Views.view(g);
          int n = view.remaining();
          view.put(src.slice(src.position(), n));
          src.position(src.position() + n);
        }
        copyInNanos += System.nanoTime() - t0;
      }
    }
  }

  /** Overwrites every parameter with rank {@code root}'s values, bucket by bucket. */
  public void broadcastParameters(int root) {
    for (int b = 0; b < buckets.size(); b++) {
      ByteBuffer buf = buffers.get(b).clear();
      if (group.rank() == root) {
        for (Param p : buckets.get(b)) {
          buf.put(Views.view(p.array()));
        }
        buf.clear();
      }
      group.broadcast(buf, ElementType.FLOAT32, root);
      if (group.rank() != root) {
        buf.clear();
        for (Param p : buckets.get(b)) {
          ByteBuffer view = Views.view(p.array());
          ByteBuffer part = buf.slice(buf.position(), view.remaining());
          view.put(part);
          buf.position(buf.position() + view.capacity());
        }
      }
    }
  }

  /** Nanoseconds spent waiting on all-reduces since construction. */
  public long allReduceNanos() {
    return allReduceNanos;
  }

  /** Nanoseconds spent dividing and copying gradients into the buckets since construction. */
  public long copyOutNanos() {
    return copyOutNanos;
  }

  /** Nanoseconds spent copying averaged buckets back into the gradients since construction. */
  public long copyInNanos() {
    return copyInNanos;
  }
}
