package io.sparkformers.training.models.nn;

import ai.djl.ndarray.NDArray;
import io.sparkformers.training.models.internal.Ops;

/** torch's {@code nn.Linear}: y = x·Wᵀ + b with {@code weight} [out, in] and an optional {@code bias} [out]. */
public final class Linear extends Module {
  private final long inFeatures;
  private final long outFeatures;
  private final Param weight;
  private final Param bias;
  private LinearAdapter adapter;

  /** {@code biasInit} null: no bias. */
  public Linear(long inFeatures, long outFeatures, Init weightInit, Init biasInit) {
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.weight = addParameter("weight", weightInit, outFeatures, inFeatures);
    this.bias = biasInit == null ? null : addParameter("bias", biasInit, outFeatures);
  }

  public long inFeatures() {
    return inFeatures;
  }

  public long outFeatures() {
    return outFeatures;
  }

  public Param weight() {
    return weight;
  }

  /** The bias, or null. */
  public Param bias() {
    return bias;
  }

  /**
   * Attaches {@code adapter}: its modules become children of this layer under their names (so their
   * parameters are named {@code <this path>.<name>.weight}, as PEFT's files name them), and {@link #forward}
   * returns what the adapter makes of the base output. Parents keep calling this layer through their fields.
   */
  public void attachAdapter(LinearAdapter adapter) {
    if (this.adapter != null) {
      throw new IllegalStateException("this Linear already has an adapter");
    }
    adapter.modules().forEach(this::addModule);
    this.adapter = adapter;
  }

  /** The attached adapter, or null. */
  public LinearAdapter adapter() {
    return adapter;
  }

  /** Removes the adapter and its modules: the layer is a plain Linear again. */
  public void detachAdapter() {
    if (adapter != null) {
      adapter.modules().keySet().forEach(this::removeModule);
      adapter = null;
    }
  }

  public NDArray forward(NDArray x) {
    NDArray base = Ops.linear(x, weight.array(), bias == null ? null : bias.array());
    return adapter == null ? base : adapter.forward(x, base);
  }
}
