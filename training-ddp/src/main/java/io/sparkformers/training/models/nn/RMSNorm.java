package io.sparkformers.training.models.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import io.sparkformers.training.models.internal.Ops;

/**
 * transformers' {@code LlamaRMSNorm}: weight · x / √(mean(x²) + eps) over the last dimension, {@code weight}
 * [dim] starting at ones. The normalisation is computed in float32 whatever x's type, and converted back to it
 * before the weight multiplies, as transformers does (half-precision inputs would lose the mean of squares).
 */
public final class RMSNorm extends Module {
  private final Param weight;
  private final double eps;

  public RMSNorm(long dim, double eps) {
    this.weight = addParameter("weight", Init.ones(), dim);
    this.eps = eps;
  }

  public Param weight() {
    return weight;
  }

  public double eps() {
    return eps;
  }

  public NDArray forward(NDArray x) {
    DataType inputType = Ops.namedType(x, "RMSNorm");
    NDArray x32 = x.toType(DataType.FLOAT32, false);
    NDArray meanSquare = Ops.pow(x32, 2).mean(new int[] {-1}, true);
    NDArray normalised = x32.div(Ops.add(meanSquare, eps).sqrt());
    // The activation first: a result is created on its first operand's manager, and the weight's is the
    // model's, where every later operation of the forward pass would pile up until the model is closed.
    return normalised.toType(inputType, false).mul(weight.array());
  }
}
