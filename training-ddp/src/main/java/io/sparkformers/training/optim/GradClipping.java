package io.sparkformers.training.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.sparkformers.training.internal.NoGrad;
import java.util.List;

/** {@code torch.nn.utils.clip_grad_norm_} with the L2 norm, on the parameters' gradients in place. */
public final class GradClipping {
  private GradClipping() {}

  /**
   * The total L2 norm of all gradients (the L2 norm of the per-tensor L2 norms, in float32 as torch computes
   * it), after scaling every gradient by {@code min(1, maxNorm / (total + 1e-6))} when {@code maxNorm > 0}.
   * Returns the norm before clipping; NaN or infinite when a gradient is.
   */
  public static float clipGradNorm(List<Param> params, double maxNorm) {
    NDManager scratch = params.get(0).array().getManager().newSubManager();
    try (scratch; NoGrad ignored = new NoGrad()) {
      float[] norms = new float[params.size()];
      NDArray[] grads = new NDArray[params.size()];
      for (int i = 0; i < params.size(); i++) {
        grads[i] = params.get(i).array().getGradient();
        grads[i].attach(scratch);
        NDArray n = grads[i].flatten().norm();
        n.attach(scratch);
        norms[i] = n.getFloat();
      }
      float total = scratch.create(norms).norm().getFloat();
      if (maxNorm > 0) {
        // torch: clip_coef = max_norm / (total_norm + 1e-6), where a scalar over a tensor is
        // reciprocal() * scalar, in float32; then clamp(max=1.0) and multiply every gradient.
        float coef = (1f / (total + 1e-6f)) * (float) maxNorm;
        float clamped = Math.min(coef, 1f);
        if (Float.isNaN(coef)) {
          clamped = coef;
        }
        for (NDArray g : grads) {
          g.muli(clamped);
        }
      }
      return total;
    }
  }
}
