package io.sparkformers.accelerate;

/**
 * The barrier stage failed on the driver's side of {@link BarrierLauncher}: its message holds Spark's report,
 * which names the failed rank and quotes its stack trace; {@link #failedRank()} is that rank when known.
 */
public class LaunchFailedException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final int failedRank;

  public LaunchFailedException(String message, int failedRank, Throwable cause) {
    super(message, cause);
    this.failedRank = failedRank;
  }

  /** The rank whose failure ended the stage, or -1 when Spark's report does not say. */
  public int failedRank() {
    return failedRank;
  }
}
