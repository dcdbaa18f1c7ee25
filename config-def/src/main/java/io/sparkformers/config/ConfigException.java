package io.sparkformers.config;

/** A configuration value or key is wrong; the message names the source, the key and what was expected. */
public final class ConfigException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  public ConfigException(String message) {
    super(message);
  }
}
