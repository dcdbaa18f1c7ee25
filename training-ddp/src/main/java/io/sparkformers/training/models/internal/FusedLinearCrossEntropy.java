package io.sparkformers.training.models.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.IValue;
import io.sparkformers.training.internal.TorchScriptKernels;

/**
 * A language-model head (logits = hidden·weightᵀ, no bias) and its mean cross-entropy computed together, a block
 * of rows at a time, so the [tokens, vocab] logits never exist whole during training: the
 * {@code linear_cross_entropy} method of {@code loss_kernels.pt} (readable source and the command that wrote it:
 * {@code src/main/torchscript/loss_kernels.py}) returns the loss and its gradients with respect to the hidden
 * states and the weight. They go back into the autograd graph through a surrogate whose value is zero and whose
 * gradients are exactly those: backward then reaches the hidden states (and through them the whole model) and
 * accumulates into the weight's gradient as if the logits had been built, and a loss divided by the
 * accumulation steps or multiplied by a loss scale scales them as it would.
 */
public final class FusedLinearCrossEntropy implements AutoCloseable {
  /** torch's ignore_index. */
  public static final long IGNORE_INDEX = -100;
  // Logits of a block: 2^21 floats (8 MB); at vocabulary 8000 about 260 rows. At least 64 rows keep the block's
  // matrix products efficient at large vocabularies.
  private static final long BLOCK_ELEMENTS = 1L << 21;
  private static final long MIN_BLOCK_ROWS = 64;

  private final TorchScriptKernels kernels;

  private FusedLinearCrossEntropy(TorchScriptKernels kernels) {
    this.kernels = kernels;
  }

  /** Loads the kernel into {@code manager} (closed with it, or by {@link #close()}). */
  public static FusedLinearCrossEntropy load(NDManager manager) {
    return new FusedLinearCrossEntropy(
        TorchScriptKernels.load(manager, FusedLinearCrossEntropy.class, "loss_kernels.pt"));
  }

  /**
   * Mean cross-entropy of {@code hidden} [rows, d] · {@code weight} [vocab, d]ᵀ against {@code labels} [rows]
   * ({@link #IGNORE_INDEX} not counted; NaN when every label is ignored, as torch), recorded for backward with
   * respect to both. A label outside [0, vocab) is refused with its position ({@link Ops#checkLabels}).
   */
  public NDArray loss(NDArray hidden, NDArray weight, NDArray labels) {
    long vocab = weight.getShape().get(0);
    NDManager m = hidden.getManager();
    try (NDArray labels64 = labels.toType(DataType.INT64, true)) {
      Ops.checkLabels(labels64, vocab);
      long blockRows = Math.max(MIN_BLOCK_ROWS, BLOCK_ELEMENTS / vocab);
      NDArray gradHidden = hidden.stopGradient().zerosLike();
      NDArray gradWeight = weight.stopGradient().zerosLike();
      NDArray value;
      try (NDArray h = hidden.stopGradient(); NDArray w = weight.stopGradient()) {
        value = kernels.call("linear_cross_entropy", m, IValue.from((PtNDArray) h), IValue.from((PtNDArray) w),
            IValue.from((PtNDArray) labels64), IValue.from(IGNORE_INDEX), IValue.from(blockRows),
            IValue.from((PtNDArray) gradHidden), IValue.from((PtNDArray) gradWeight))[0];
      }
      // d/dhidden of sum(hidden ∘ gradHidden) is gradHidden, likewise for the weight; the surrogate minus its own
      // detached value is zero forwards, so the loss keeps the kernel's value exactly.
      NDArray surrogate = hidden.mul(gradHidden).sum().add(weight.mul(gradWeight).sum());
      try (NDArray detached = surrogate.stopGradient()) {
        return surrogate.sub(detached).add(value);
      }
    }
  }

  @Override
  public void close() {
    kernels.close();
  }
}
