package io.sparkformers.accelerate;

/**
 * The barrier stage failed on the driver's side of {@link BarrierLauncher}: its message is one line naming the
 * failed rank and quoting its error; Spark's full report (with the ranks' stack traces) is the cause.
 * {@link #failedRank()} is that rank when known.
 */
public class LaunchFailedException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final int failedRank;
  private final boolean retryable;

  public LaunchFailedException(String message, int failedRank, Throwable cause) {
    this(message, failedRank, cause, true);
  }

  /** {@code retryable}: false when the rank's error cannot go away on another run (bad input). */
  public LaunchFailedException(String message, int failedRank, Throwable cause, boolean retryable) {
    super(message, cause);
    this.failedRank = failedRank;
    this.retryable = retryable;
  }

  /** False when the failed rank's error cannot go away by running again (bad input), so Spark did not retry. */
  public boolean retryable() {
    return retryable;
  }

  /** The rank whose failure ended the stage, or -1 when Spark's report does not say. */
  public int failedRank() {
    return failedRank;
  }
}
