package io.sparkformers.accelerate;

import java.util.List;

/**
 * A collective failed: a peer did not answer within the timeout, closed its connection, aborted, or issued
 * a different collective. The message names this rank and the peer. The group is unusable afterwards.
 * A timeout also lists the ranks that did not answer ({@link #unresponsiveRanks()}), so that the launcher can
 * have their executors replaced.
 */
public class CollectiveException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final List<Integer> unresponsiveRanks;

  public CollectiveException(String message) {
    super(message);
    this.unresponsiveRanks = List.of();
  }

  public CollectiveException(String message, Throwable cause) {
    super(message, cause);
    this.unresponsiveRanks = List.of();
  }

  /** A timeout waiting for {@code unresponsiveRanks}. */
  public CollectiveException(String message, List<Integer> unresponsiveRanks) {
    super(message);
    this.unresponsiveRanks = List.copyOf(unresponsiveRanks);
  }

  /** The ranks this rank timed out waiting for; empty when the failure was not a timeout. */
  public List<Integer> unresponsiveRanks() {
    return unresponsiveRanks;
  }
}
