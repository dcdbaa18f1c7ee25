package io.sparkformers.training.models.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * How a fresh parameter is filled when no checkpoint provides it, as transformers' {@code _init_weights} (or
 * torch, for the mlp) fills it. Random fills draw from the engine's seedable generator.
 */
public record Init(Kind kind, double scale) {

  /** The distribution or constant. */
  public enum Kind { NORMAL, UNIFORM, ZEROS, ONES }

  /** N(0, std²). */
  public static Init normal(double std) {
    return new Init(Kind.NORMAL, std);
  }

  /** U(−bound, bound): torch.nn.Linear's default for both weight and bias is bound = 1/√fan_in. */
  public static Init uniform(double bound) {
    return new Init(Kind.UNIFORM, bound);
  }

  public static Init zeros() {
    return new Init(Kind.ZEROS, 0);
  }

  public static Init ones() {
    return new Init(Kind.ONES, 0);
  }

  /** A fresh float32 tensor of {@code shape} on {@code manager}. */
  public NDArray create(NDManager manager, Shape shape) {
    return switch (kind) {
      case NORMAL -> manager.randomNormal(0f, (float) scale, shape, DataType.FLOAT32);
      case UNIFORM -> manager.randomUniform((float) -scale, (float) scale, shape, DataType.FLOAT32);
      case ZEROS -> manager.zeros(shape, DataType.FLOAT32);
      case ONES -> manager.ones(shape, DataType.FLOAT32);
    };
  }
}
