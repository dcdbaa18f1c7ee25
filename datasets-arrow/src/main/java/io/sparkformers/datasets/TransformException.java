package io.sparkformers.datasets;

/** A transform (map, filter, cast) failed; {@link #row()} is the index of the row it failed on. */
public final class TransformException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final long row;

  public TransformException(String message, long row, Throwable cause) {
    super(message, cause);
    this.row = row;
  }

  /** The row (or the first row of the batch) the transform failed on. */
  public long row() {
    return row;
  }
}
