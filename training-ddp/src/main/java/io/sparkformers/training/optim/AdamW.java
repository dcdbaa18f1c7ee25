package io.sparkformers.training.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.sparkformers.training.internal.NoGrad;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code torch.optim.AdamW} (single-tensor path, {@code amsgrad=False}, {@code maximize=False}): decoupled
 * weight decay {@code p *= 1 - lr*wd}, moments {@code m = b1*m + (1-b1)*g}, {@code v = b2*v + (1-b2)*g*g},
 * bias corrections computed in double as Python does, and {@code p += -(lr/bc1) * m / (sqrt(v)/sqrt(bc2) + eps)},
 * with each tensor operation in the same order as torch so that rounding matches.
 */
public final class AdamW implements Optimizer {

  private final List<Param> params;
  private final double beta1;
  private final double beta2;
  private final double eps;
  private final double weightDecay;
  private final NDManager stateManager;
  private final Map<String, NDArray> expAvg = new LinkedHashMap<>();
  private final Map<String, NDArray> expAvgSq = new LinkedHashMap<>();
  private long step;

  public AdamW(List<Param> params, double beta1, double beta2, double eps, double weightDecay) {
    if (params.isEmpty()) {
      throw new IllegalArgumentException("optimizer got an empty parameter list");
    }
    this.params = List.copyOf(params);
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.weightDecay = weightDecay;
    this.stateManager = params.get(0).array().getManager().newSubManager();
    for (Param p : params) {
      expAvg.put(p.name(), stateManager.zeros(p.array().getShape(), p.array().getDataType()));
      expAvgSq.put(p.name(), stateManager.zeros(p.array().getShape(), p.array().getDataType()));
    }
  }

  @Override
  public void step(double lr) {
    step++;
    double biasCorrection1 = 1 - Math.pow(beta1, step);
    double biasCorrection2 = 1 - Math.pow(beta2, step);
    double stepSize = lr / biasCorrection1;
    double biasCorrection2Sqrt = Math.sqrt(biasCorrection2);
    try (NoGrad ignored = new NoGrad()) {
      for (Param p : params) {
        NDArray param = p.array();
        NDArray grad = param.getGradient();
        NDArray m = expAvg.get(p.name());
        NDArray v = expAvgSq.get(p.name());
        try (NDManager scratch = stateManager.newSubManager()) {
          grad.attach(scratch);
          if (weightDecay != 0 && p.decay()) {
            param.muli((float) (1 - lr * weightDecay));
          }
          // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1-beta2): ((1-beta2)*g)*g, then the sum
          v.muli((float) beta2).addi(in(scratch, grad.mul((float) (1 - beta2))).muli(grad));
          // exp_avg.mul_(beta1).add_(grad, alpha=1-beta1), scaling the gradient in place (it is consumed)
          m.muli((float) beta1).addi(grad.muli((float) (1 - beta1)));
          // denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
          NDArray denom = in(scratch, v.sqrt()).divi((float) biasCorrection2Sqrt).addi((float) eps);
          // param.addcdiv_(exp_avg, denom, value=-step_size)
          param.addi(in(scratch, m.mul((float) -stepSize)).divi(denom));
        }
      }
    }
  }

  /** Moves a temporary result into the scratch manager that frees it after the update. */
  static NDArray in(NDManager scratch, NDArray temporary) {
    temporary.attach(scratch);
    return temporary;
  }

  /** The number of steps taken (torch's {@code state['step']}). */
  public long steps() {
    return step;
  }

  @Override
  public Map<String, NDArray> state() {
    Map<String, NDArray> s = new LinkedHashMap<>();
    for (Param p : params) {
      s.put(p.name() + ".exp_avg", expAvg.get(p.name()));
      s.put(p.name() + ".exp_avg_sq", expAvgSq.get(p.name()));
    }
    s.put("step", stateManager.create((double) step));
    return s;
  }

  @Override
  public void loadState(Map<String, NDArray> state) {
    try (NoGrad ignored = new NoGrad()) {
      for (Param p : params) {
        copyInto(state, p.name() + ".exp_avg", expAvg.get(p.name()));
        copyInto(state, p.name() + ".exp_avg_sq", expAvgSq.get(p.name()));
      }
    }
    NDArray s = state.get("step");
    if (s == null) {
      throw new IllegalArgumentException("optimizer state has no 'step' entry");
    }
    step = (long) s.toType(ai.djl.ndarray.types.DataType.FLOAT64, false).getDouble();
  }

  static void copyInto(Map<String, NDArray> state, String key, NDArray target) {
    NDArray source = state.get(key);
    if (source == null) {
      throw new IllegalArgumentException("optimizer state has no entry '" + key + "'");
    }
    if (!source.getShape().equals(target.getShape())) {
      throw new IllegalArgumentException("optimizer state '" + key + "' has shape " + source.getShape()
          + ", the parameter has " + target.getShape());
    }
    // In place (never NDArray.set(Buffer): that would alias a Java buffer).
    target.muli(0).addi(source.toType(target.getDataType(), false));
  }

  @Override
  public void close() {
    stateManager.close();
  }
}
