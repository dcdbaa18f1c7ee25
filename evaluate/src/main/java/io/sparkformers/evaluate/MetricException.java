package io.sparkformers.evaluate;

/**
 * The reference tool would raise here (an empty corpus where it divides by zero, a binary average over many
 * labels): we fail with its reason instead of returning a plausible number.
 */
public class MetricException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public MetricException(String message) {
    super(message);
  }
}
