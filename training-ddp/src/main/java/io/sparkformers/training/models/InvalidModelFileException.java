package io.sparkformers.training.models;

import io.sparkformers.accelerate.NonRetryable;
import java.io.IOException;

/**
 * A model file that is not what it claims (a truncated or malformed safetensors file): reading it again cannot
 * help, so a rank that fails on it fails the launch at once instead of having Spark run the stage again.
 */
public class InvalidModelFileException extends IOException implements NonRetryable {
  private static final long serialVersionUID = 1L;

  public InvalidModelFileException(String message, Throwable cause) {
    super(message, cause);
  }
}
