package io.sparkformers.accelerate;

/** Thrown by a barrier task whose rank function failed; names the rank and carries the original error. */
public class RankFailedException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final int rank;
  private final int worldSize;

  public RankFailedException(int rank, int worldSize, int attempt, Throwable cause) {
    super("rank " + rank + " of " + worldSize + " (stage attempt " + attempt + ") failed: " + cause, cause);
    this.rank = rank;
    this.worldSize = worldSize;
  }

  public int rank() {
    return rank;
  }

  public int worldSize() {
    return worldSize;
  }
}
