package io.sparkformers.training;

import io.sparkformers.config.ConfigEnum;
import io.sparkformers.config.ConfigTypes;

/** transformers' {@code SchedulerType} values this Trainer implements: the learning-rate schedule. */
public enum SchedulerType implements ConfigEnum {
  /** Linear warmup, then linear decay to 0 ({@code get_linear_schedule_with_warmup}). */
  LINEAR("linear"),
  /** Linear warmup, then a half cosine down to 0 ({@code get_cosine_schedule_with_warmup}). */
  COSINE("cosine"),
  /** The base learning rate throughout. */
  CONSTANT("constant"),
  /** Linear warmup, then the base learning rate. */
  CONSTANT_WITH_WARMUP("constant_with_warmup");

  private final String value;

  SchedulerType(String value) {
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
  public static SchedulerType parse(String value) {
    return ConfigTypes.parseEnum(SchedulerType.class, value);
  }

  /** {@link #value()}, so that messages and logs read as transformers' do. */
  @Override
  public String toString() {
    return value;
  }
}
