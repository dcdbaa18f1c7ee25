package io.sparkformers.training;

import io.sparkformers.config.ConfigEnum;
import io.sparkformers.config.ConfigTypes;

/**
 * transformers' {@code IntervalStrategy}: when logging and evaluation happen ({@link SaveStrategy} for saving).
 * A config file writes {@code no}, {@code steps} or {@code epoch}; YAML's unquoted {@code no} (read as false) is NO.
 */
public enum IntervalStrategy implements ConfigEnum {
  /** Never. */
  NO("no"),
  /** Every {@code *_steps} optimizer steps. */
  STEPS("steps"),
  /** At the end of every epoch. */
  EPOCH("epoch");

  private final String value;

  IntervalStrategy(String value) {
    this.value = value;
  }

  /** The name transformers and config files use. */
  @Override
  public String value() {
    return value;
  }

  /**
   * The constant named {@code value} as transformers spells it; an unknown name is an error listing the valid
   * ones.
   */
  public static IntervalStrategy parse(String value) {
    return ConfigTypes.parseEnum(IntervalStrategy.class, value);
  }

  /** {@link #value()}, so that messages and logs read as transformers' do. */
  @Override
  public String toString() {
    return value;
  }
}
