package io.sparkformers.accelerate;

import java.util.List;

/** How a rank's failure is classified before it is reported to the driver. */
final class Failures {
  private Failures() {}

  /**
   * Whether {@code t} cannot go away on a retry: a {@link NonRetryable} or {@link IllegalArgumentException}
   * (bad input: a setting, a shape, a file's content) anywhere in its cause chain, or a peer's abort that said
   * so (then this rank failed only because that one did).
   */
  static boolean notRetryable(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
      if (c instanceof NonRetryable || c instanceof IllegalArgumentException) {
        return true;
      }
      if (c instanceof RankFailedException rf) {
        return !rf.retryable();
      }
      if (c instanceof CollectiveException && String.valueOf(c.getMessage())
          .contains(RankFailedException.NOT_RETRYABLE)) {
        return true;
      }
    }
    return false;
  }

  /** The ranks a collective timed out waiting for, from the first timeout in {@code t}'s cause chain. */
  static List<Integer> unresponsiveRanks(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
      if (c instanceof CollectiveException ce && !ce.unresponsiveRanks().isEmpty()) {
        return ce.unresponsiveRanks();
      }
    }
    return List.of();
  }
}
