package io.sparkformers.accelerate.nccl;

/** NCCL's {@code ncclResult_t} codes (nccl.h), with what each means for the caller. */
public enum NcclResult {
  SUCCESS(0, "ncclSuccess", "no error"),
  UNHANDLED_CUDA_ERROR(1, "ncclUnhandledCudaError", "a CUDA call failed (a bad device pointer, a device out of"
      + " memory, or a failed kernel before this call)"),
  SYSTEM_ERROR(2, "ncclSystemError", "a system call failed (sockets, shared memory, or a peer process died)"),
  INTERNAL_ERROR(3, "ncclInternalError", "NCCL's own error"),
  INVALID_ARGUMENT(4, "ncclInvalidArgument", "invalid argument (a null or host pointer, a bad data type or"
      + " operation, or a count that does not match)"),
  INVALID_USAGE(5, "ncclInvalidUsage", "invalid usage (e.g. two ranks on one GPU, or ranks that disagree on the"
      + " world size)"),
  REMOTE_ERROR(6, "ncclRemoteError", "a peer failed or disconnected"),
  IN_PROGRESS(7, "ncclInProgress", "the operation is still in progress (a nonblocking communicator)"),
  UNKNOWN(-1, "unknown", "a result code this binding does not know (a newer NCCL)");

  private final int code;
  private final String symbol;
  private final String meaning;

  NcclResult(int code, String symbol, String meaning) {
    this.code = code;
    this.symbol = symbol;
    this.meaning = meaning;
  }

  public int code() {
    return code;
  }

  /** The name nccl.h gives it, e.g. {@code ncclInvalidArgument}. */
  public String symbol() {
    return symbol;
  }

  public String meaning() {
    return meaning;
  }

  /** The result of code {@code code} ({@link #UNKNOWN} for others). */
  public static NcclResult of(int code) {
    for (NcclResult r : values()) {
      if (r.code == code && r != UNKNOWN) {
        return r;
      }
    }
    return UNKNOWN;
  }

  /**
   * Returns normally for {@code ncclSuccess}; any other code throws an {@link NcclException} naming
   * {@code rank}, the call and the code, with NCCL's own message ({@code detail}, may be null) appended.
   */
  public static void check(int code, String call, int rank, int worldSize, String detail) {
    if (code != 0) {
      throw new NcclException(rank, worldSize, call, of(code), code, detail);
    }
  }
}
