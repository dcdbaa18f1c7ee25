package io.sparkformers.evaluate;

/** Bad input to a metric (a null prediction, no references, a label of the wrong type); the message says what was expected. */
public class InvalidInputException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  public InvalidInputException(String message) {
    super(message);
  }
}
