package io.sparkformers.training.models.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * transformers' causal-LM loss, shared by every decoder: mean next-token cross-entropy of logits[:, :-1] against
 * labels[:, 1:], −100 ignored. The labels are shifted instead of the logits (the last position gets −100), which
 * counts the same tokens without copying the [batch, seq, vocab] logits.
 */
public final class CausalLmLoss {
  private CausalLmLoss() {}

  /** The loss from logits [batch, seq, vocab] and labels [batch, seq]. */
  public static NDArray fromLogits(NDArray logits, NDArray labels) {
    long vocab = logits.getShape().get(2);
    try (NDArray next = nextTokenLabels(labels)) {
      return Ops.crossEntropy(logits.reshape(-1, vocab), next);
    }
  }

  /**
   * The same loss from the final hidden states [batch, seq, d] and the LM head's weight [vocab, d], the head
   * fused into the loss ({@link FusedLinearCrossEntropy}): the whole logits never exist.
   */
  public static NDArray fused(FusedLinearCrossEntropy kernel, NDArray hidden, NDArray headWeight, NDArray labels) {
    long d = hidden.getShape().get(2);
    try (NDArray next = nextTokenLabels(labels)) {
      return kernel.loss(hidden.reshape(-1, d), headWeight, next);
    }
  }

  /** Each position's target, flattened to [batch·seq] int64: labels[:, 1:] and −100 for the last position. */
  static NDArray nextTokenLabels(NDArray labels) {
    long batch = labels.getShape().get(0);
    NDManager m = labels.getManager();
    try (NDArray next = labels.get(":, 1:").toType(DataType.INT64, false);
        NDArray ignored = m.full(new Shape(batch, 1), FusedLinearCrossEntropy.IGNORE_INDEX, DataType.INT64);
        NDArray shifted = next.concat(ignored, 1)) {
      return shifted.reshape(-1);
    }
  }
}
