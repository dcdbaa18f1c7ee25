package io.sparkformers.jobs.train;

/**
 * A file or folder a job names does not exist: a data file, model folder, {@code config.json} or tokenizer. Found
 * on the driver before Spark starts; the {@code sparkformers} commands exit with their "input missing" code.
 */
public final class InputMissingException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  public InputMissingException(String message) {
    super(message);
  }
}
