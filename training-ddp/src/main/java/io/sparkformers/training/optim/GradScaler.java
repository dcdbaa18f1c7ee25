package io.sparkformers.training.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.sparkformers.training.internal.NoGrad;
import java.util.List;

/**
 * Dynamic loss scaling as {@code torch.amp.GradScaler} with its defaults: the loss is multiplied by the scale
 * before backward, gradients are multiplied by {@code 1/scale} before clipping and the optimizer step; a step
 * whose gradients hold an infinity or NaN is skipped and the scale multiplied by {@code backoff_factor};
 * after {@code growth_interval} good steps in a row the scale is multiplied by {@code growth_factor}.
 */
public final class GradScaler {
  private float scale;
  private final float growthFactor;
  private final float backoffFactor;
  private final int growthInterval;
  private int growthTracker;

  public GradScaler() {
    this(65536f, 2f, 0.5f, 2000);
  }

  public GradScaler(float initScale, float growthFactor, float backoffFactor, int growthInterval) {
    this.scale = initScale;
    this.growthFactor = growthFactor;
    this.backoffFactor = backoffFactor;
    this.growthInterval = growthInterval;
  }

  public float scale() {
    return scale;
  }

  public int growthTracker() {
    return growthTracker;
  }

  /** Restores the state saved in a checkpoint. */
  public void load(float scale, int growthTracker) {
    this.scale = scale;
    this.growthTracker = growthTracker;
  }

  /**
   * Multiplies every gradient by {@code 1/scale} (computed in double, then rounded to float, as torch does)
   * and returns true when any gradient holds an infinity or NaN (the step must then be skipped).
   */
  public boolean unscaleAndCheck(List<Param> params) {
    float invScale = (float) (1.0 / scale);
    boolean foundInf = false;
    NDManager scratch = params.get(0).array().getManager().newSubManager();
    try (scratch; NoGrad ignored = new NoGrad()) {
      for (Param p : params) {
        NDArray g = p.array().getGradient();
        g.attach(scratch);
        g.muli(invScale);
        // Element by element, as torch's non-finite check (a sum could overflow on finite values).
        NDArray inf = g.isInfinite();
        inf.attach(scratch);
        NDArray nan = g.isNaN();
        nan.attach(scratch);
        NDArray any = inf.logicalOr(nan).any();
        any.attach(scratch);
        if (any.getBoolean()) {
          foundInf = true;
        }
      }
    }
    return foundInf;
  }

  /** torch's {@code update()}: back off on an overflow, grow after {@code growth_interval} good steps. */
  public void update(boolean foundInf) {
    if (foundInf) {
      scale *= backoffFactor;
      growthTracker = 0;
    } else if (++growthTracker == growthInterval) {
      scale *= growthFactor;
      growthTracker = 0;
    }
  }
}
