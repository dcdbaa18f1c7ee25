package io.sparkformers.training.optim;

import ai.djl.ndarray.NDArray;
import java.util.Map;

/**
 * An optimizer over named parameters: {@link #step} applies one update from each parameter's gradient, at
 * the learning rate the scheduler gives (torch's {@code param_group['lr']}). Its state (moments, momentum
 * buffers, step counts) is exposed by name for checkpoints. Owns its state tensors.
 */
public interface Optimizer extends AutoCloseable {

  /** Applies one update to every parameter from its gradient, at learning rate {@code lr}. */
  void step(double lr);

  /**
   * The state tensors by {@code <parameter name>.<state name>} (for example {@code fc.weight.exp_avg}), in a
   * stable order; {@code step} counts are float64 scalars as torch keeps them.
   */
  Map<String, NDArray> state();

  /** Replaces the state with tensors read from a checkpoint (same names as {@link #state()}). */
  void loadState(Map<String, NDArray> state);

  @Override
  void close();
}
