package io.sparkformers.jobs;

/**
 * A command line or job file that is wrong (an unknown key, a bad value, a malformed {@code --set}): exit code
 * {@link ExitCodes#USAGE}. Its message names the file, option or key.
 */
public final class UsageException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  public UsageException(String message, Throwable cause) {
    super(message, cause);
  }

  public UsageException(String message) {
    super(message);
  }
}
