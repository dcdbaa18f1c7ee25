package io.sparkformers.training.models.nn;

import ai.djl.ndarray.NDArray;
import io.sparkformers.training.models.internal.Ops;

/** torch's {@code nn.Linear}: y = x·Wᵀ + b with {@code weight} [out, in] and an optional {@code bias} [out]. */
public final class Linear extends Module {
  private final long inFeatures;
  private final long outFeatures;
  private final Param weight;
  private final Param bias;

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

  public NDArray forward(NDArray x) {
    return Ops.linear(x, weight.array(), bias == null ? null : bias.array());
  }
}
