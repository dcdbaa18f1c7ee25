package io.sparkformers.training;

import io.sparkformers.config.ConfigEnum;
import io.sparkformers.config.ConfigTypes;

/**
 * transformers' {@code SaveStrategy}: when checkpoints are saved ({@code no}, {@code steps}, {@code epoch},
 * {@code best}).
 */
public enum SaveStrategy implements ConfigEnum {
  /** Never. */
  NO("no"),
  /** Every {@code save_steps} optimizer steps. */
  STEPS("steps"),
  /** At the end of every epoch. */
  EPOCH("epoch"),
  /** Whenever an evaluation gives a new best {@code metric_for_best_model}. */
  BEST("best");

  private final String value;

  SaveStrategy(String value) {
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
  public static SaveStrategy parse(String value) {
    return ConfigTypes.parseEnum(SaveStrategy.class, value);
  }

  /** {@link #value()}, so that messages and logs read as transformers' do. */
  @Override
  public String toString() {
    return value;
  }
}
