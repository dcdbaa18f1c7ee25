package io.sparkformers.accelerate.nccl;

import io.sparkformers.accelerate.CollectiveException;

/** An NCCL call that failed: the rank, the call, NCCL's result code and its explanation. */
public final class NcclException extends CollectiveException {
  private static final long serialVersionUID = 1L;
  private final int rank;
  private final NcclResult result;

  NcclException(int rank, int worldSize, String call, NcclResult result, int code, String detail) {
    super("rank " + rank + " of " + worldSize + ": " + call + " failed with " + result.symbol() + " (" + code
        + "): " + result.meaning() + (detail == null || detail.isBlank() ? "" : "; NCCL says: " + detail));
    this.rank = rank;
    this.result = result;
  }

  /** The rank whose call failed. */
  public int rank() {
    return rank;
  }

  public NcclResult result() {
    return result;
  }
}
