package io.sparkformers.accelerate.nccl;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;
import io.sparkformers.accelerate.ElementType;
import io.sparkformers.accelerate.ReduceOp;
import java.util.ArrayList;
import java.util.List;

/**
 * The parts of NCCL's C API the backend calls, bound through JNA to the system's library at run time, and the
 * CUDA driver calls that make a device current on the calling thread (NCCL opens a communicator on the current
 * device). Nothing here is compiled against CUDA: a machine without NCCL fails {@link #load} with an
 * {@link NcclUnavailableException} that says what was tried.
 */
public final class NcclLibrary {
  /** Where NCCL is looked for, in order: the runtime's soname first (a runtime-only install has no libnccl.so). */
  public static final List<String> DEFAULT_NAMES = List.of("libnccl.so.2", "nccl");
  /** Names a library file to load instead (a path), for an NCCL outside the linker's search path. */
  public static final String LIBRARY_VARIABLE = "SPARKFORMERS_NCCL_LIBRARY";

  /** nccl.h's functions, as used here; every one returns an {@code ncclResult_t}, except the strings. */
  public interface Nccl extends Library {
    int ncclGetVersion(IntByReference version);

    int ncclGetUniqueId(UniqueId id);

    int ncclCommInitRank(PointerByReference comm, int nranks, UniqueId.ByValue id, int rank);

    int ncclAllReduce(Pointer send, Pointer recv, long count, int datatype, int op, Pointer comm, Pointer stream);

    int ncclBroadcast(Pointer send, Pointer recv, long count, int datatype, int root, Pointer comm, Pointer stream);

    int ncclAllGather(Pointer send, Pointer recv, long sendCount, int datatype, Pointer comm, Pointer stream);

    int ncclCommGetAsyncError(Pointer comm, IntByReference asyncError);

    int ncclCommDestroy(Pointer comm);

    int ncclCommAbort(Pointer comm);

    String ncclGetErrorString(int result);

    String ncclGetLastError(Pointer comm);
  }

  /** The CUDA driver API (libcuda.so.1, installed with the driver): a device's primary context made current. */
  public interface CudaDriver extends Library {
    int cuInit(int flags);

    int cuDeviceGet(IntByReference device, int ordinal);

    int cuDevicePrimaryCtxRetain(PointerByReference context, int device);

    int cuCtxSetCurrent(Pointer context);
  }

  /** {@code ncclUniqueId}: 128 opaque bytes, passed by value to {@code ncclCommInitRank}. */
  public static class UniqueId extends Structure {
    public static final int BYTES = 128;
    public byte[] internal = new byte[BYTES];

    @Override
    protected List<String> getFieldOrder() {
      return List.of("internal");
    }

    /** The by-value form {@code ncclCommInitRank} takes. */
    public static class ByValue extends UniqueId implements Structure.ByValue {}
  }

  private NcclLibrary() {}

  /**
   * Loads NCCL: the file {@code SPARKFORMERS_NCCL_LIBRARY} names when set, else {@link #DEFAULT_NAMES}.
   *
   * @throws NcclUnavailableException naming every attempt and why it failed
   */
  public static Nccl load() {
    String override = System.getenv(LIBRARY_VARIABLE);
    return load(override != null && !override.isBlank() ? List.of(override) : DEFAULT_NAMES);
  }

  /** Loads the first of {@code names} that JNA can open (a soname, a short name or a path). */
  public static Nccl load(List<String> names) {
    List<String> failures = new ArrayList<>();
    for (String name : names) {
      try {
        return Native.load(name, Nccl.class);
      } catch (UnsatisfiedLinkError e) {
        failures.add(name + ": " + e.getMessage().lines().findFirst().orElse(""));
      }
    }
    throw new NcclUnavailableException("NCCL could not be loaded (tried " + String.join("; ", failures) + "). Install"
        + " NCCL 2 (libnccl.so.2, e.g. the libnccl2 package or NVIDIA's nvidia-nccl wheel) where the dynamic linker"
        + " finds it, or set " + LIBRARY_VARIABLE + " to its path");
  }

  /** Loads the CUDA driver API. */
  public static CudaDriver loadDriver() {
    try {
      return Native.load("libcuda.so.1", CudaDriver.class);
    } catch (UnsatisfiedLinkError e) {
      throw new NcclUnavailableException("the CUDA driver library libcuda.so.1 could not be loaded: "
          + e.getMessage().lines().findFirst().orElse("") + " (no NVIDIA driver on this machine?)");
    }
  }

  /** NCCL's {@code ncclDataType_t} for {@code type}. */
  public static int dataType(ElementType type) {
    return switch (type) {
      case INT32 -> 2; // ncclInt32
      case INT64 -> 4; // ncclInt64
      case FLOAT16 -> 6; // ncclFloat16
      case FLOAT32 -> 7; // ncclFloat32
      case FLOAT64 -> 8; // ncclFloat64
    };
  }

  /** NCCL's {@code ncclRedOp_t} for {@code op} (ncclAvg needs NCCL 2.10 or newer). */
  public static int reduceOp(ReduceOp op) {
    return switch (op) {
      case SUM -> 0; // ncclSum
      case MAX -> 2; // ncclMax
      case MIN -> 3; // ncclMin
      case AVG -> 4; // ncclAvg
    };
  }
}
