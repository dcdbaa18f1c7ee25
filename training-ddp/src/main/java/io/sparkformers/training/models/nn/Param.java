package io.sparkformers.training.models.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;

/**
 * One parameter a module declares: its shape, how it is initialised, whether it is trainable, and (once the
 * tree's parameters are created by {@link Module#createParameters}) the tensor itself. A frozen parameter
 * records no gradient, and the optimizer, the gradient all-reduce and adapter checkpoints skip it.
 */
public final class Param {
  private final Shape shape;
  private final Init init;
  private boolean trainable = true;
  private Parameter parameter;

  Param(Shape shape, Init init) {
    this.shape = shape;
    this.init = init;
  }

  public Shape shape() {
    return shape;
  }

  public Init init() {
    return init;
  }

  public boolean trainable() {
    return trainable;
  }

  /** Freezes ({@code false}) or unfreezes the parameter, before or after its tensor exists. */
  public void setTrainable(boolean trainable) {
    this.trainable = trainable;
    if (parameter != null) {
      parameter.freeze(!trainable); // also sets the tensor's requires-grad flag
    }
  }

  public boolean isCreated() {
    return parameter != null;
  }

  /** The tensor; fails before the parameters are created. */
  public NDArray array() {
    return parameter().getArray();
  }

  /** The DJL parameter (named by the full path); fails before the parameters are created. */
  public Parameter parameter() {
    if (parameter == null) {
      throw new IllegalStateException("the parameter is declared but not created yet (Module.createParameters)");
    }
    return parameter;
  }

  /** Takes {@code array} (already on the model's manager) as this parameter's tensor, named {@code name}. */
  void set(String name, NDArray array) {
    if (parameter != null) {
      throw new IllegalStateException(name + " is already created");
    }
    if (!array.getShape().equals(shape)) {
      throw new IllegalArgumentException(name + ": tensor of shape " + array.getShape() + ", declared " + shape);
    }
    if (trainable) {
      array.setRequiresGradient(true);
    }
    parameter = Parameter.builder()
        .setName(name)
        .setType(shape.dimension() == 1 ? Parameter.Type.BIAS : Parameter.Type.WEIGHT)
        .optArray(array)
        .optRequiresGrad(trainable)
        .build();
  }
}
