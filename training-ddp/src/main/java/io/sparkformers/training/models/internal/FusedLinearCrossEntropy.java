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
  // Logits of a block: up to 2^23 floats (32 MB), a whole 1024-token batch at vocabulary 8000 (about 170 tokens
  // at GPT-2's 50257). The head's weight gradient is one matrix product per block, and products over fewer rows
  // ran slower in libtorch than the unfused head: blocks of 262 rows cost 67 ms more in products per step than
  // they saved in passes. At least 64 rows keep the products efficient at large vocabularies.
  private static final long BLOCK_ELEMENTS = 1L << 23;
  private static final long MIN_BLOCK_ROWS = 64;

  private final TorchScriptKernels kernels;
  private final NDManager manager;
  // One block of logits, kept between calls so its pages are faulted in once, not every step.
  private NDArray workspace;

  private FusedLinearCrossEntropy(TorchScriptKernels kernels, NDManager manager) {
    this.kernels = kernels;
    this.manager = manager;
  }

  /** Loads the kernel into {@code manager}, which also holds the block workspace (closed with it). */
  public static FusedLinearCrossEntropy load(NDManager manager) {
    return new FusedLinearCrossEntropy(
        TorchScriptKernels.load(manager, FusedLinearCrossEntropy.class, "loss_kernels.pt"), manager);
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
      long rows = hidden.getShape().get(0);
      long blockRows = Math.min(rows, Math.max(MIN_BLOCK_ROWS, BLOCK_ELEMENTS / vocab));
      NDArray block = workspace(blockRows, vocab, hidden.getDataType());
      // Uninitialised: the kernel writes every element of both.
      NDArray gradHidden = m.create(hidden.getShape(), hidden.getDataType());
      NDArray gradWeight = m.create(weight.getShape(), weight.getDataType());
      NDArray value;
      try (NDArray h = hidden.stopGradient(); NDArray w = weight.stopGradient()) {
        value = kernels.call("linear_cross_entropy", m, IValue.from((PtNDArray) h), IValue.from((PtNDArray) w),
            IValue.from((PtNDArray) labels64), IValue.from(IGNORE_INDEX), IValue.from((PtNDArray) block),
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

  /**
   * The workspace, [at least rows, vocab]: it grows (never shrinks) to the largest block asked for; the kernel
   * takes its block size from the workspace's rows.
   */
  private NDArray workspace(long rows, long vocab, DataType dtype) {
    if (workspace == null || workspace.getShape().get(1) != vocab || workspace.getShape().get(0) < rows
        || workspace.getDataType() != dtype) {
      if (workspace != null) {
        workspace.close();
      }
      workspace = manager.create(new ai.djl.ndarray.types.Shape(rows, vocab), dtype);
    }
    return workspace;
  }

  @Override
  public void close() {
    if (workspace != null) {
      workspace.close();
    }
    kernels.close();
  }
}
