package io.sparkformers.training;

import io.sparkformers.config.ConfigEnum;
import io.sparkformers.config.ConfigTypes;

/** transformers' {@code OptimizerNames} values this Trainer implements. */
public enum OptimizerNames implements ConfigEnum {
  /** AdamW with decoupled weight decay, as {@code torch.optim.AdamW}. */
  ADAMW_TORCH("adamw_torch"),
  /** Plain SGD, as {@code torch.optim.SGD}. */
  SGD("sgd");

  private final String value;

  OptimizerNames(String value) {
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
  public static OptimizerNames parse(String value) {
    return ConfigTypes.parseEnum(OptimizerNames.class, value);
  }

  /** {@link #value()}, so that messages and logs read as transformers' do. */
  @Override
  public String toString() {
    return value;
  }
}
