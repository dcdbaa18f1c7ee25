package io.sparkformers.training.models.nn;

import ai.djl.ndarray.NDArray;

/**
 * A layer that computes an affine map of its input's last axis, {@link Linear} (weight [out, in]) or
 * {@link Conv1D} (weight stored transposed, [in, out]), and may carry a {@link LinearAdapter} (a LoRA adapter)
 * whose modules become its children.
 */
public abstract class LinearLayer extends Module {
  private final long inFeatures;
  private final long outFeatures;
  private LinearAdapter adapter;

  LinearLayer(long inFeatures, long outFeatures) {
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
  }

  public final long inFeatures() {
    return inFeatures;
  }

  public final long outFeatures() {
    return outFeatures;
  }

  public abstract Param weight();

  /** The bias, or null. */
  public abstract Param bias();

  /** True where the weight is stored [in, out] (transformers' Conv1D; PEFT's fan_in_fan_out). */
  public abstract boolean weightIsTransposed();

  /** The layer without its adapter. */
  protected abstract NDArray baseForward(NDArray x);

  /**
   * Attaches {@code adapter}: its modules become children of this layer under their names (so their
   * parameters are named {@code <this path>.<name>.weight}, as PEFT's files name them), and {@link #forward}
   * returns what the adapter makes of the base output. Parents keep calling this layer through their fields.
   */
  public final void attachAdapter(LinearAdapter adapter) {
    if (this.adapter != null) {
      throw new IllegalStateException("this " + getClass().getSimpleName() + " already has an adapter");
    }
    adapter.modules().forEach(this::addModule);
    this.adapter = adapter;
  }

  /** The attached adapter, or null. */
  public final LinearAdapter adapter() {
    return adapter;
  }

  /** Removes the adapter and its modules: the layer is a plain one again. */
  public final void detachAdapter() {
    if (adapter != null) {
      adapter.modules().keySet().forEach(this::removeModule);
      adapter = null;
    }
  }

  public final NDArray forward(NDArray x) {
    NDArray base = baseForward(x);
    return adapter == null ? base : adapter.forward(x, base);
  }
}
