package io.sparkformers.training.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;

/**
 * Backward passes without DJL's {@code GradientCollector}, whose JVM-wide "already collecting" flag forbids
 * two ranks training on two threads of one JVM (Spark {@code local[N]}). Grad mode is per thread in libtorch.
 */
public final class Autograd {
  private Autograd() {}

  /** Turns gradient recording on for this thread (torch's default mode). */
  public static void enable() {
    JniUtils.setGradMode(true);
  }

  /** Whether this thread records operations for backward. */
  public static boolean isEnabled() {
    return JniUtils.isGradMode();
  }

  /** Sets this thread's recording mode, e.g. back to what it was before a training step. */
  public static void setEnabled(boolean recording) {
    JniUtils.setGradMode(recording);
  }

  /**
   * Accumulates d(loss)/d(parameter) into every parameter's gradient, as {@code loss.backward()}; segment by
   * segment when the forward pass was cut into segments ({@link BackwardSegments}, open on this thread).
   */
  public static void backward(NDArray loss) {
    try (NDArray ones = loss.onesLike()) {
      BackwardSegments segments = BackwardSegments.current();
      if (segments != null) {
        segments.checkNotEnded();
      }
      if (segments != null && segments.hasCuts()) {
        segments.backward(loss, ones);
      } else {
        JniUtils.backward((PtNDArray) loss, (PtNDArray) ones, false, false);
      }
    }
  }

  /** Sets the tensor's gradient to zero in place ({@code optimizer.zero_grad(set_to_none=False)}). */
  public static void zeroGrad(NDArray parameter) {
    JniUtils.zeroGrad((PtNDArray) parameter);
  }
}
