package io.sparkformers.training.models.nn;

import ai.djl.ndarray.NDArray;
import io.sparkformers.training.models.internal.Ops;

/** torch's {@code nn.Linear}: y = x·Wᵀ + b with {@code weight} [out, in] and an optional {@code bias} [out]. */
public final class Linear extends LinearLayer {
  private final Param weight;
  private final Param bias;

  /** {@code biasInit} null: no bias. */
  public Linear(long inFeatures, long outFeatures, Init weightInit, Init biasInit) {
    super(inFeatures, outFeatures);
    this.weight = addParameter("weight", weightInit, outFeatures, inFeatures);
    this.bias = biasInit == null ? null : addParameter("bias", biasInit, outFeatures);
  }

  @Override
  public Param weight() {
    return weight;
  }

  @Override
  public Param bias() {
    return bias;
  }

  @Override
  public boolean weightIsTransposed() {
    return false;
  }

  @Override
  protected NDArray baseForward(NDArray x) {
    return Ops.linear(x, weight.array(), bias == null ? null : bias.array());
  }
}
