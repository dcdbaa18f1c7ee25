package io.sparkformers.training.models.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * One parameter an architecture declares: its Hugging Face name, shape, and how transformers (or torch, for
 * the mlp) initialises it when no checkpoint provides it.
 */
public record ParamSpec(String name, Shape shape, Init init, double scale) {

  /** How a fresh parameter is filled. */
  public enum Init { NORMAL, UNIFORM, ZEROS, ONES }

  public static ParamSpec normal(String name, double std, long... shape) {
    return new ParamSpec(name, new Shape(shape), Init.NORMAL, std);
  }

  /** U(−bound, bound): torch.nn.Linear's default for both weight and bias is bound = 1/√fan_in. */
  public static ParamSpec uniform(String name, double bound, long... shape) {
    return new ParamSpec(name, new Shape(shape), Init.UNIFORM, bound);
  }

  public static ParamSpec zeros(String name, long... shape) {
    return new ParamSpec(name, new Shape(shape), Init.ZEROS, 0);
  }

  public static ParamSpec ones(String name, long... shape) {
    return new ParamSpec(name, new Shape(shape), Init.ONES, 0);
  }

  /** A fresh float32 tensor, drawn from the engine's (seedable) random generator. */
  public NDArray initialise(NDManager manager) {
    return switch (init) {
      case NORMAL -> manager.randomNormal(0f, (float) scale, shape, DataType.FLOAT32);
      case UNIFORM -> manager.randomUniform((float) -scale, (float) scale, shape, DataType.FLOAT32);
      case ZEROS -> manager.zeros(shape, DataType.FLOAT32);
      case ONES -> manager.ones(shape, DataType.FLOAT32);
    };
  }
}
