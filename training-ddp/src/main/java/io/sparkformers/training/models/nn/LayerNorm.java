package io.sparkformers.training.models.nn;

import ai.djl.ndarray.NDArray;
import io.sparkformers.training.models.internal.Ops;

/** torch's {@code nn.LayerNorm} over the last dimension: {@code weight} (ones) and {@code bias} (zeros) [dim]. */
public final class LayerNorm extends Module {
  private final Param weight;
  private final Param bias;
  private final double eps;

  public LayerNorm(long dim, double eps) {
    this.weight = addParameter("weight", Init.ones(), dim);
    this.bias = addParameter("bias", Init.zeros(), dim);
    this.eps = eps;
  }

  public Param weight() {
    return weight;
  }

  public Param bias() {
    return bias;
  }

  public NDArray forward(NDArray x) {
    return Ops.layerNorm(x, weight.array(), bias.array(), eps);
  }
}
