package io.sparkformers.config;

/**
 * An enum whose constants are written in config files by a fixed string (transformers' spelling, such as
 * {@code constant_with_warmup}), read by {@link ConfigTypes#enumOf}.
 */
public interface ConfigEnum {
  /** The string a config file holds for this constant. */
  String value();
}
