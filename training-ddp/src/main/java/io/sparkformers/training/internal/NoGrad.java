package io.sparkformers.training.internal;

import ai.djl.pytorch.jni.JniUtils;

/**
 * Turns autograd recording off on this thread (torch's {@code no_grad}), so that parameters can be updated in
 * place, and restores the previous mode on close. Grad mode is per thread in libtorch, so ranks that are
 * threads of one JVM do not disturb each other.
 */
public final class NoGrad implements AutoCloseable {
  private final boolean previous;

  public NoGrad() {
    previous = JniUtils.isGradMode();
    JniUtils.setGradMode(false);
  }

  @Override
  public void close() {
    JniUtils.setGradMode(previous);
  }
}
