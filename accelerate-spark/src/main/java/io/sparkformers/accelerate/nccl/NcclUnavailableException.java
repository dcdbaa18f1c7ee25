package io.sparkformers.accelerate.nccl;

/** NCCL (or the CUDA driver it needs) cannot be used in this process; the message says what was tried. */
public final class NcclUnavailableException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public NcclUnavailableException(String message) {
    super(message);
  }
}
