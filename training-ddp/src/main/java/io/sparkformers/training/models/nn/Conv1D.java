package io.sparkformers.training.models.nn;

import ai.djl.ndarray.NDArray;
import io.sparkformers.training.models.internal.Ops;

/**
 * transformers' {@code Conv1D} (GPT-2's projections): a linear layer stored transposed, {@code weight} [in, out]
 * and {@code bias} [out]; y = x·W + b.
 */
public final class Conv1D extends LinearLayer {
  private final Param weight;
  private final Param bias;

  public Conv1D(long inFeatures, long outFeatures, Init weightInit, Init biasInit) {
    super(inFeatures, outFeatures);
    this.weight = addParameter("weight", weightInit, inFeatures, outFeatures);
    this.bias = addParameter("bias", biasInit, outFeatures);
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
    return true;
  }

  @Override
  protected NDArray baseForward(NDArray x) {
    return Ops.conv1d(x, weight.array(), bias.array());
  }
}
