package io.sparkformers.accelerate.nccl;

import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;
import io.sparkformers.accelerate.CollectiveException;
import io.sparkformers.accelerate.DeviceCollectives;
import io.sparkformers.accelerate.ElementType;
import io.sparkformers.accelerate.ProcessGroup;
import io.sparkformers.accelerate.ReduceOp;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/**
 * A process group whose device collectives run on an NCCL communicator, and whose host-memory collectives (and
 * everything else: barrier, point to point, abort) go through the {@code tcp} group it was formed over. NCCL work
 * is queued on the legacy default CUDA stream, the one libtorch computes on unless told otherwise, so it is
 * ordered with the kernels before and after it. A failed NCCL call aborts the communicator
 * ({@code ncclCommAbort}) and throws an {@link NcclException} naming this rank; the group stays failed.
 */
public final class NcclProcessGroup implements ProcessGroup, DeviceCollectives {
  private final ProcessGroup host;
  private final NcclLibrary.Nccl nccl;
  private final NcclLibrary.CudaDriver driver;
  private final Pointer context;
  private final int cudaDevice;
  private Pointer comm;
  private boolean failed;

  private NcclProcessGroup(ProcessGroup host, NcclLibrary.Nccl nccl, NcclLibrary.CudaDriver driver,
      Pointer context, int cudaDevice, Pointer comm) {
    this.host = host;
    this.nccl = nccl;
    this.driver = driver;
    this.context = context;
    this.cudaDevice = cudaDevice;
    this.comm = comm;
  }

  /**
   * Opens this rank's communicator on {@code cudaDevice} over {@code host} (whose rank and world size it takes),
   * from rank 0's {@code uniqueId}; blocks until every rank has called it.
   */
  public static NcclProcessGroup open(ProcessGroup host, NcclLibrary.Nccl nccl, NcclLibrary.CudaDriver driver,
      int cudaDevice, byte[] uniqueId) {
    if (uniqueId.length != NcclLibrary.UniqueId.BYTES) {
      throw new IllegalArgumentException("an ncclUniqueId has " + NcclLibrary.UniqueId.BYTES + " bytes, got "
          + uniqueId.length);
    }
    Pointer context = makeCurrent(driver, cudaDevice, host.rank());
    NcclLibrary.UniqueId.ByValue id = new NcclLibrary.UniqueId.ByValue();
    id.internal = uniqueId.clone();
    PointerByReference comm = new PointerByReference();
    int r = nccl.ncclCommInitRank(comm, host.worldSize(), id, host.rank());
    NcclResult.check(r, "ncclCommInitRank on CUDA device " + cudaDevice, host.rank(), host.worldSize(),
        nccl.ncclGetErrorString(r));
    return new NcclProcessGroup(host, nccl, driver, context, cudaDevice, comm.getValue());
  }

  /**
   * Makes CUDA device {@code device}'s primary context current on this thread (what {@code cudaSetDevice} does;
   * NCCL opens a communicator on the current device) and returns it.
   */
  static Pointer makeCurrent(NcclLibrary.CudaDriver driver, int device, int rank) {
    IntByReference handle = new IntByReference();
    PointerByReference ctx = new PointerByReference();
    cuda(driver.cuInit(0), "cuInit", rank);
    cuda(driver.cuDeviceGet(handle, device), "cuDeviceGet(" + device + ")", rank);
    cuda(driver.cuDevicePrimaryCtxRetain(ctx, handle.getValue()), "cuDevicePrimaryCtxRetain", rank);
    cuda(driver.cuCtxSetCurrent(ctx.getValue()), "cuCtxSetCurrent", rank);
    return ctx.getValue();
  }

  private static void cuda(int result, String call, int rank) {
    if (result != 0) {
      throw new CollectiveException("rank " + rank + ": " + call + " failed with CUresult " + result);
    }
  }

  @Override
  public int cudaDevice() {
    return cudaDevice;
  }

  /** The communicator's NCCL version, e.g. 22803 for 2.28.3. */
  public int ncclVersion() {
    IntByReference v = new IntByReference();
    check(nccl.ncclGetVersion(v), "ncclGetVersion");
    return v.getValue();
  }

  @Override
  public void allReduceDevice(ByteBuffer buffer, ElementType type, ReduceOp op) {
    Pointer p = address(buffer);
    long count = count(buffer, type);
    run("ncclAllReduce", () -> nccl.ncclAllReduce(p, p, count, NcclLibrary.dataType(type), NcclLibrary.reduceOp(op),
        comm, null));
  }

  /**
   * {@link #allReduceDevice(ByteBuffer, ElementType, ReduceOp)} with NCCL's own {@code ncclDataType_t} and
   * {@code ncclRedOp_t} codes, for types {@link ElementType} does not name (ncclBfloat16 is 9); the buffer's
   * remaining bytes must be whole elements of {@code elementBytes}. A code NCCL rejects fails like any call.
   */
  public void allReduceDevice(ByteBuffer buffer, int ncclDataType, int ncclRedOp, int elementBytes) {
    if (elementBytes <= 0 || buffer.remaining() % elementBytes != 0) {
      throw new IllegalArgumentException(buffer.remaining() + " bytes are not whole elements of " + elementBytes);
    }
    Pointer p = address(buffer);
    long count = buffer.remaining() / elementBytes;
    run("ncclAllReduce", () -> nccl.ncclAllReduce(p, p, count, ncclDataType, ncclRedOp, comm, null));
  }

  @Override
  public void broadcastDevice(ByteBuffer buffer, ElementType type, int root) {
    if (root < 0 || root >= worldSize()) {
      throw new IllegalArgumentException("root " + root + " is outside world size " + worldSize());
    }
    Pointer p = address(buffer);
    long count = count(buffer, type);
    run("ncclBroadcast", () -> nccl.ncclBroadcast(p, p, count, NcclLibrary.dataType(type), root, comm, null));
  }

  @Override
  public void allGatherDevice(ByteBuffer input, ByteBuffer output, ElementType type) {
    if (output.remaining() != (long) input.remaining() * worldSize()) {
      throw new IllegalArgumentException("all-gather output holds " + output.remaining() + " bytes; "
          + worldSize() + " ranks of " + input.remaining() + " need " + (long) input.remaining() * worldSize());
    }
    Pointer in = address(input);
    Pointer out = address(output);
    long count = count(input, type);
    run("ncclAllGather", () -> nccl.ncclAllGather(in, out, count, NcclLibrary.dataType(type), comm, null));
  }

  /** The device address of the buffer's position (never dereferenced here). */
  private static Pointer address(ByteBuffer buffer) {
    if (!buffer.isDirect()) {
      throw new IllegalArgumentException("device collectives take a direct buffer over device memory");
    }
    return Native.getDirectBufferPointer(buffer).share(buffer.position());
  }

  private static long count(ByteBuffer buffer, ElementType type) {
    if (buffer.remaining() % type.bytes() != 0) {
      throw new IllegalArgumentException(buffer.remaining() + " bytes are not whole " + type + " elements");
    }
    return buffer.remaining() / type.bytes();
  }

  private interface Call {
    int invoke();
  }

  /** Runs an NCCL call on this group's device; any failure, or an asynchronous one it reveals, aborts it. */
  private synchronized void run(String name, Call call) {
    if (failed || comm == null) {
      throw new CollectiveException("rank " + rank() + ": the NCCL communicator " + (failed ? "failed" : "is closed")
          + "; open a new process group");
    }
    cuda(driver.cuCtxSetCurrent(context), "cuCtxSetCurrent", rank());
    int r = call.invoke();
    if (r == 0) {
      IntByReference async = new IntByReference();
      int q = nccl.ncclCommGetAsyncError(comm, async);
      r = q != 0 ? q : async.getValue();
      name = q != 0 ? "ncclCommGetAsyncError after " + name : name + " (asynchronously)";
    }
    check(r, name);
  }

  private void check(int r, String name) {
    if (r == 0) {
      return;
    }
    String detail = lastError(r);
    failed = true;
    Pointer c = comm;
    comm = null;
    if (c != null) {
      nccl.ncclCommAbort(c);
    }
    NcclResult.check(r, name, rank(), worldSize(), detail);
  }

  /** NCCL's message for the last error (ncclGetLastError, NCCL 2.13+), or the code's generic string. */
  private String lastError(int code) {
    try {
      String last = comm == null ? null : nccl.ncclGetLastError(comm);
      return last != null && !last.isBlank() ? last : nccl.ncclGetErrorString(code);
    } catch (UnsatisfiedLinkError e) {
      return nccl.ncclGetErrorString(code);
    }
  }

  // Host memory and everything that is not a device collective: the tcp group.

  @Override
  public int rank() {
    return host.rank();
  }

  @Override
  public int worldSize() {
    return host.worldSize();
  }

  @Override
  public ByteBuffer allocate(int bytes) {
    return host.allocate(bytes);
  }

  @Override
  public boolean isRegistered(ByteBuffer buffer) {
    return host.isRegistered(buffer);
  }

  @Override
  public void allReduce(ByteBuffer buffer, ElementType type, ReduceOp op) {
    host.allReduce(buffer, type, op);
  }

  @Override
  public CompletableFuture<Void> allReduceAsync(ByteBuffer buffer, ElementType type, ReduceOp op) {
    return host.allReduceAsync(buffer, type, op);
  }

  @Override
  public void broadcast(ByteBuffer buffer, ElementType type, int root) {
    host.broadcast(buffer, type, root);
  }

  @Override
  public void allGather(ByteBuffer input, ByteBuffer output, ElementType type) {
    host.allGather(input, output, type);
  }

  @Override
  public void reduceScatter(ByteBuffer input, ByteBuffer output, ElementType type, ReduceOp op) {
    host.reduceScatter(input, output, type, op);
  }

  @Override
  public void barrier() {
    host.barrier();
  }

  @Override
  public void send(ByteBuffer buffer, ElementType type, int dst) {
    host.send(buffer, type, dst);
  }

  @Override
  public void recv(ByteBuffer buffer, ElementType type, int src) {
    host.recv(buffer, type, src);
  }

  @Override
  public CompletableFuture<Void> broadcastAsync(ByteBuffer buffer, ElementType type, int root) {
    return host.broadcastAsync(buffer, type, root);
  }

  @Override
  public CompletableFuture<Void> allGatherAsync(ByteBuffer input, ByteBuffer output, ElementType type) {
    return host.allGatherAsync(input, output, type);
  }

  @Override
  public CompletableFuture<Void> reduceScatterAsync(ByteBuffer input, ByteBuffer output, ElementType type,
      ReduceOp op) {
    return host.reduceScatterAsync(input, output, type, op);
  }

  @Override
  public CompletableFuture<Void> barrierAsync() {
    return host.barrierAsync();
  }

  @Override
  public CompletableFuture<Void> sendAsync(ByteBuffer buffer, ElementType type, int dst) {
    return host.sendAsync(buffer, type, dst);
  }

  @Override
  public CompletableFuture<Void> recvAsync(ByteBuffer buffer, ElementType type, int src) {
    return host.recvAsync(buffer, type, src);
  }

  @Override
  public Duration timeout() {
    return host.timeout();
  }

  @Override
  public synchronized void abort(Throwable cause) {
    failed = true;
    if (comm != null) {
      nccl.ncclCommAbort(comm);
      comm = null;
    }
    host.abort(cause);
  }

  @Override
  public synchronized void close() {
    try {
      if (comm != null) {
        Pointer c = comm;
        comm = null;
        int r = nccl.ncclCommDestroy(c);
        NcclResult.check(r, "ncclCommDestroy", rank(), worldSize(), nccl.ncclGetErrorString(r));
      }
    } finally {
      host.close();
    }
  }
}
