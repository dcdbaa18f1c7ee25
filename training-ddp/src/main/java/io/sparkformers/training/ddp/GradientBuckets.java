package io.sparkformers.training.ddp;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import io.sparkformers.accelerate.DeviceCollectives;
import io.sparkformers.accelerate.ElementType;
import io.sparkformers.accelerate.ProcessGroup;
import io.sparkformers.accelerate.ReduceOp;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.sparkformers.training.internal.BackwardSegments;
import io.sparkformers.training.internal.DjlNative;
import io.sparkformers.training.internal.NoGrad;
import io.sparkformers.training.internal.TorchScriptKernels;
import io.sparkformers.training.internal.Views;
import io.sparkformers.training.optim.Param;
import io.sparkformers.training.internal.BackwardSegments;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * The gradients of a model's float32 parameters grouped into buckets as PyTorch DDP groups them (in reverse
 * parameter order, the order backward produces them; a first bucket of 1 MiB, then {@code bucket_cap_mb}),
 * each with its own direct buffer. Once the gradients exist, each parameter's gradient lives in its slice of a
 * bucket (DDP's {@code gradient_as_bucket_view=True}): backward accumulates straight into the memory the
 * all-reduce reduces in place, and nothing is copied in or out. {@link #unbindGradients()} gives the
 * gradients memory of their own again; the Trainer calls it when training ends, before the buckets' memory
 * (the group's shared arenas) can go away.
 *
 * <p>Parameters on a GPU get buckets in device memory, as DDP's: with a group that reduces device memory
 * ({@link DeviceCollectives}, the nccl backend) the buckets are all-reduced where they are; with any other group
 * each bucket is staged through its host buffer (copied out, all-reduced, copied back: slower, correct).
 */
public final class GradientBuckets {
  /** PyTorch DDP's {@code _DEFAULT_FIRST_BUCKET_BYTES}. */
  static final long FIRST_BUCKET_BYTES = 1L << 20;

  private final ProcessGroup group;
  private final List<List<Param>> buckets = new ArrayList<>();
  private final List<ByteBuffer> buffers = new ArrayList<>();
  private final CompletableFuture<?>[] inFlight;
  /** While the gradients live in the buckets: what owns the views onto them, else null. */
  private NDManager bound;
  /** Per bucket, a tensor over its whole buffer (the gradients in it, end to end). */
  private final List<NDArray> bucketTensors = new ArrayList<>();
  /** The gradient handles bound to bucket slices, for {@link #unbindGradients()}. */
  private final List<NDArray> boundGradients = new ArrayList<>();
  private TorchScriptKernels views;
  /** Whether the gradients live on a device (not in the host buffers): each bucket is a tensor of its own. */
  private final boolean onDevice;
  /** With onDevice: the group's device collectives when it reduces device memory on this device, else null. */
  private final DeviceCollectives deviceGroup;
  /** With onDevice and no deviceGroup: per bucket, a CPU tensor over its host buffer (the staging copy). */
  private final List<NDArray> hostTensors = new ArrayList<>();
  private TorchScriptKernels segmentKernels;
  private long allReduceNanos;
  private long copyOutNanos;
  private long copyInNanos;
  /** Each parameter tensor's bucket, for the overlapped backward's "these gradients are final" calls. */
  private final Map<NDArray, Integer> bucketOf = new IdentityHashMap<>();
  /** During an overlapped step: per bucket, its parameters whose gradients are not final yet. */
  private int[] pending;
  /** During an overlapped step: which parameters were reported final (a parameter counts once). */
  private final Set<NDArray> reported = Collections.newSetFromMap(new IdentityHashMap<>());
  /** Buckets launched so far in this step, always a prefix of the launch order (as every rank launches). */
  private int launched;
  private long launchedDuringBackward;

  public GradientBuckets(List<Param> params, ProcessGroup group, long bucketCapBytes) {
    this(params, group, bucketCapBytes, !params.isEmpty() && params.get(0).array().getDevice().isGpu());
  }

  /**
   * {@code onDevice}: buckets as tensors of their own on the parameters' device (staged through the host buffers
   * unless the group reduces device memory); tests force it for CPU parameters to run the staging path.
   */
  GradientBuckets(List<Param> params, ProcessGroup group, long bucketCapBytes, boolean onDevice) {
    this.group = group;
    this.onDevice = onDevice;
    ai.djl.Device device = params.isEmpty() ? ai.djl.Device.cpu() : params.get(0).array().getDevice();
    // A group that reduces memory of this device (cudaDevice -1: host memory) takes the buckets where they are.
    this.deviceGroup = onDevice && group instanceof DeviceCollectives d
        && d.cudaDevice() == (device.isGpu() ? device.getDeviceId() : -1) ? d : null;
    List<Param> current = new ArrayList<>();
    long bytes = 0;
    long cap = Math.min(FIRST_BUCKET_BYTES, bucketCapBytes);
    for (int i = params.size() - 1; i >= 0; i--) {
      Param p = params.get(i);
      if (!p.array().getDevice().equals(device)) {
        throw new IllegalArgumentException("parameter " + p.name() + " is on " + p.array().getDevice() + ", "
            + params.get(0).name() + " on " + device + ": data-parallel parameters share one device");
      }
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
      bucketOf.put(p.array(), buckets.size());
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

  /** Whether the buckets are all-reduced where they live by the group's device collectives (no staging). */
  public boolean reducedByDeviceCollectives() {
    return deviceGroup != null;
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
   * are summed (PyTorch DDP's default hook), so that every rank ends with the same bits. The gradients live in
   * the buckets (bound on the first call), so bucket i is divided in place and put on the wire while bucket
   * i+1 is divided, and nothing is copied back.
   */
  public void allReduceMean() {
    if (bound == null) {
      bindGradients();
    }
    // Buckets an overlapped backward launched are on the wire already; the rest go now, in the same order.
    while (launched < buckets.size()) {
      launch(launched++, true);
    }
    pending = null;
    launched = 0;
    for (int b = 0; b < buckets.size(); b++) {
      long t1 = System.nanoTime();
      inFlight[b].join();
      inFlight[b] = null;
      allReduceNanos += System.nanoTime() - t1;
      if (onDevice && deviceGroup == null) {
        long t2 = System.nanoTime();
        copy(bucketTensors.get(b), hostTensors.get(b)); // host -> device
        copyInNanos += System.nanoTime() - t2;
      }
    }
  }

  /**
   * Divides bucket {@code b} by the world size in place and starts its all-reduce: on the device by the
   * group's device collectives, else through the host buffer on the group's thread (staged from the device
   * first where the gradients live there). A launch during backward is backward's time, not the optimizer
   * step's: {@code timed} false leaves the counters alone.
   */
  private void launch(int b, boolean timed) {
    long t0 = System.nanoTime();
    // grad / world_size in place (libtorch, vectorised; the same IEEE quotient as DDP's div_).
    try (NoGrad ignored = new NoGrad()) {
      bucketTensors.get(b).divi((float) group.worldSize());
    }
    long t1 = System.nanoTime();
    if (deviceGroup != null) {
      // Queued on libtorch's stream after the division; the optimizer's kernels queue behind it.
      deviceGroup.allReduceDevice(DjlNative.memory(bucketTensors.get(b)), ElementType.FLOAT32, ReduceOp.SUM);
      inFlight[b] = CompletableFuture.completedFuture(null);
      if (timed) {
        copyOutNanos += System.nanoTime() - t0;
      }
      return;
    }
    if (onDevice) {
      copy(hostTensors.get(b), bucketTensors.get(b)); // device -> host staging
      t1 = System.nanoTime();
    }
    inFlight[b] = group.allReduceAsync(buffers.get(b).clear(), ElementType.FLOAT32, ReduceOp.SUM);
    if (timed) {
      copyOutNanos += t1 - t0;
      allReduceNanos += System.nanoTime() - t1;
    }
  }

  /**
   * Overlaps the next backward pass with the all-reduces, as PyTorch DDP's gradient hooks do: returns a recorder
   * (open on this thread until closed) in which the model's forward pass cuts its segment boundaries
   * ({@link BackwardSegments#cut}), so that {@link io.sparkformers.training.internal.Autograd#backward} runs one
   * segment at a time and each bucket is divided and put on the wire as soon as its gradients are final, in
   * bucket order, while the segments below run. {@link #allReduceMean()} then launches the rest and waits for
   * all. Returns null before the gradients live in the buckets (until the first {@link #allReduceMean()}: a
   * gradient bound mid-backward would lose what the segments below add), and the step is not overlapped.
   */
  public BackwardSegments overlapNextBackward() {
    if (bound == null) {
      return null;
    }
    pending = new int[buckets.size()];
    for (int b = 0; b < buckets.size(); b++) {
      pending[b] = buckets.get(b).size();
    }
    reported.clear();
    launched = 0;
    if (segmentKernels == null) {
      segmentKernels = BackwardSegments.loadKernels(bound); // closed with the bound views
    }
    return BackwardSegments.open(this::gradientsFinal, segmentKernels);
  }

  /** The overlapped backward's report: these parameters' gradients are final (null: every gradient is). */
  private void gradientsFinal(List<NDArray> arrays) {
    if (pending == null) {
      return;
    }
    if (arrays == null) {
      java.util.Arrays.fill(pending, 0);
    } else {
      for (NDArray a : arrays) {
        Integer b = bucketOf.get(a);
        if (b != null && reported.add(a)) {
          pending[b]--;
        }
      }
    }
    while (launched < buckets.size() && pending[launched] == 0) {
      launch(launched++, false);
      if (arrays != null) {
        launchedDuringBackward++;
      }
    }
  }

  /**
   * Buckets whose all-reduce started while a backward pass was still running (the overlapped steps' sum): how
   * much of the communication could hide behind compute.
   */
  public long bucketsLaunchedDuringBackward() {
    return launchedDuringBackward;
  }

  /** {@code dst[:] = src} (same size, any devices), in place and unrecorded: torch's {@code copy_}. */
  private static void copy(NDArray dst, NDArray src) {
    try (NoGrad ignored = new NoGrad()) {
      JniUtils.indexSet((PtNDArray) dst, (PtNDArray) src, new long[] {0}, new long[] {dst.size()}, new long[] {1});
    }
  }

  /**
   * Moves every gradient into its slice of its bucket, values included (torch's {@code Tensor.set_} through
   * {@code bucket_views.pt}; DJL cannot re-point a gradient). Needs the gradients to exist: after a backward.
   */
  private void bindGradients() {
    NDManager owner = buckets.get(0).get(0).array().getManager().newSubManager();
    try {
      views = TorchScriptKernels.load(owner, GradientBuckets.class, "bucket_views.pt");
      List<NDArray> slices = new ArrayList<>();
      for (int b = 0; b < buckets.size(); b++) {
        ByteBuffer buf = buffers.get(b);
        if (onDevice) {
          // A tensor of the bucket's size on the parameters' device (DJL would copy a host buffer there, not
          // wrap it); the gradients become views of it.
          bucketTensors.add(owner.zeros(new Shape(buf.capacity() / 4), DataType.FLOAT32));
          if (deviceGroup == null) {
            hostTensors.add(hostTensor(owner, buf));
          }
        } else {
          bucketTensors.add(owner.create(slice(buf, 0, buf.capacity()),
              new Shape(buf.capacity() / 4), DataType.FLOAT32));
        }
        int at = 0;
        for (Param p : buckets.get(b)) {
          int bytes = Math.toIntExact(p.array().size() * 4);
          // A tensor over the bucket's own memory (DJL wraps a direct buffer without copying it).
          slices.add(onDevice
              ? bucketTensors.get(b).get(new NDIndex("{}:{}", at / 4, (at + bytes) / 4)).reshape(p.array().getShape())
              : owner.create(slice(buf, at, bytes), p.array().getShape(), DataType.FLOAT32));
          NDArray g = p.array().getGradient();
          g.attach(owner);
          boundGradients.add(g);
          at += bytes;
        }
      }
      views.run("bind", TorchScriptKernels.tensors(boundGradients), TorchScriptKernels.tensors(slices));
      bound = owner;
    } catch (RuntimeException e) {
      bucketTensors.clear();
      hostTensors.clear();
      boundGradients.clear();
      owner.close();
      throw e;
    }
  }

  /** A float32 CPU tensor over the whole of {@code buf}, without a copy, owned by a CPU child of {@code owner}. */
  private static NDArray hostTensor(NDManager owner, ByteBuffer buf) {
    NDManager cpu = owner.getDevice().isGpu() ? owner.newSubManager(ai.djl.Device.cpu()) : owner;
    return cpu.create(slice(buf, 0, buf.capacity()), new Shape(buf.capacity() / 4), DataType.FLOAT32);
  }

  /** Bytes {@code [at, at + bytes)} of {@code buf}, native order, over the same memory. */
  private static ByteBuffer slice(ByteBuffer buf, int at, int bytes) {
    ByteBuffer d = buf.duplicate().clear();
    return d.position(at).limit(at + bytes).slice().order(ByteOrder.nativeOrder());
  }

  /**
   * Gives every gradient memory of its own again, values included; the next {@link #allReduceMean()} binds
   * them anew. Call before the group's buffers go away (the Trainer does when training ends).
   */
  public void unbindGradients() {
    if (bound == null) {
      return;
    }
    try {
      views.run("unbind", TorchScriptKernels.tensors(boundGradients));
    } finally {
      bucketTensors.clear();
      hostTensors.clear();
      boundGradients.clear();
      bound.close(); // the views, the bucket tensors, the gradient handles and the modules
      bound = null;
      views = null;
      segmentKernels = null;
      pending = null;
      launched = 0;
    }
  }

  /** Overwrites every parameter with rank {@code root}'s values, bucket by bucket (through the buckets). */
  public void broadcastParameters(int root) {
    unbindGradients(); // the buckets carry weights now: the gradients must not live in them
    if (onDevice) {
      broadcastThroughHost(root);
      return;
    }
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

  /**
   * {@link #broadcastParameters} for parameters with memory Java cannot view (a device's): each bucket's host
   * buffer is filled from the parameters by libtorch, broadcast, and copied back into them. Once per run.
   */
  private void broadcastThroughHost(int root) {
    try (NDManager scope = buckets.get(0).get(0).array().getManager().newSubManager()) {
      for (int b = 0; b < buckets.size(); b++) {
        ByteBuffer buf = buffers.get(b).clear();
        NDArray host = hostTensor(scope, buf);
        long at = 0;
        for (Param p : buckets.get(b)) {
          long n = p.array().size();
          if (group.rank() == root) {
            try (NDArray flat = p.array().reshape(-1); NoGrad ignored = new NoGrad()) {
              JniUtils.indexSet((PtNDArray) host, (PtNDArray) flat, new long[] {at}, new long[] {at + n},
                  new long[] {1});
            }
          }
          at += n;
        }
        group.broadcast(buf, ElementType.FLOAT32, root);
        if (group.rank() != root) {
          at = 0;
          for (Param p : buckets.get(b)) {
            long n = p.array().size();
            try (NDArray part = host.get(new NDIndex("{}:{}", at, at + n)); NDArray flat = p.array().reshape(-1)) {
              copy(flat, part);
            }
            at += n;
          }
        }
      }
    }
  }

  /** Nanoseconds spent waiting on all-reduces since construction. */
  public long allReduceNanos() {
    return allReduceNanos;
  }

  /** Nanoseconds spent dividing the gradients by the world size in their buckets since construction. */
  public long copyOutNanos() {
    return copyOutNanos;
  }

  /**
   * Nanoseconds spent copying averaged buckets back into the gradients: none where they live in the buckets,
   * the host-to-device copies where device buckets are staged through the host.
   */
  public long copyInNanos() {
    return copyInNanos;
  }
}
