package io.sparkformers.accelerate;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Thrown by a barrier task whose rank function failed; names the rank and carries the original error. Its
 * message also says whether a retry can help ({@link #retryable()}) and which ranks did not answer a
 * collective in time ({@link #unresponsiveRanks()}): the driver reads both from the message, which is what
 * Spark always carries back.
 */
public class RankFailedException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  /** In the message of a failure that a retry cannot cure. */
  static final String NOT_RETRYABLE = "[not retryable]";
  private static final Pattern HEADER = Pattern.compile(
      "rank (\\d+) of (\\d+) \\(stage attempt (\\d+)\\) failed( \\[not retryable\\])?"
          + "( \\[no answer from ranks? ([\\d, ]+)\\])?: ", Pattern.DOTALL);
  private final int rank;
  private final int worldSize;
  private final boolean retryable;
  private final List<Integer> unresponsiveRanks;

  public RankFailedException(int rank, int worldSize, int attempt, Throwable cause) {
    this(rank, worldSize, attempt, cause, true, List.of());
  }

  public RankFailedException(int rank, int worldSize, int attempt, Throwable cause, boolean retryable,
      List<Integer> unresponsiveRanks) {
    super("rank " + rank + " of " + worldSize + " (stage attempt " + attempt + ") failed"
        + (retryable ? "" : " " + NOT_RETRYABLE) + (unresponsiveRanks.isEmpty() ? ""
        : " [no answer from rank" + (unresponsiveRanks.size() == 1 ? " " : "s ")
            + unresponsiveRanks.stream().map(String::valueOf).collect(Collectors.joining(", ")) + "]")
        + ": " + cause, cause);
    this.rank = rank;
    this.worldSize = worldSize;
    this.retryable = retryable;
    this.unresponsiveRanks = List.copyOf(unresponsiveRanks);
  }

  public int rank() {
    return rank;
  }

  public int worldSize() {
    return worldSize;
  }

  /** False when the cause cannot go away on a retry (bad input), so the launch fails at once. */
  public boolean retryable() {
    return retryable;
  }

  /** The ranks this rank timed out waiting for in a collective (stuck or stopped ones); often empty. */
  public List<Integer> unresponsiveRanks() {
    return unresponsiveRanks;
  }

  /** What a message of this exception (as Spark reports it from an executor) says; null if it is not one. */
  static Parsed parse(String message) {
    if (message == null) {
      return null;
    }
    Matcher m = HEADER.matcher(message);
    if (!m.find()) {
      return null;
    }
    List<Integer> ranks = m.group(6) == null ? List.of()
        : java.util.Arrays.stream(m.group(6).split(",\\s*")).map(Integer::parseInt).toList();
    return new Parsed(Integer.parseInt(m.group(1)), m.group(4) == null, ranks,
        message.substring(m.end()));
  }

  /** A rank's failure as its executor reported it (its text holds the rank's stack trace). */
  static final class RemoteTrace extends RuntimeException {
    private static final long serialVersionUID = 1L;

    RemoteTrace(String executorsReport) {
      super("as the rank's executor reported it:\n" + executorsReport, null, false, false);
    }
  }

  /** A rank failure read back from its message; {@code cause} is the original error's text. */
  record Parsed(int rank, boolean retryable, List<Integer> unresponsiveRanks, String cause) {
    /**
     * The failure this one quotes, when this rank failed only because a peer aborted with its own (the peer's
     * message travels inside this one's): the rank where the trouble began.
     */
    Parsed origin() {
      Parsed p = this;
      for (Parsed inner = parse(p.cause); inner != null; inner = parse(p.cause)) {
        p = inner;
      }
      return p;
    }
  }
}
