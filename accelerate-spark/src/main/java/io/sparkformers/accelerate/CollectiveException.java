package io.sparkformers.accelerate;

/**
 * A collective failed: a peer did not answer within the timeout, closed its connection, aborted, or issued
 * a different collective. The message names this rank and the peer. The group is unusable afterwards.
 */
public class CollectiveException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public CollectiveException(String message) {
    super(message);
  }

  public CollectiveException(String message, Throwable cause) {
    super(message, cause);
  }
}
