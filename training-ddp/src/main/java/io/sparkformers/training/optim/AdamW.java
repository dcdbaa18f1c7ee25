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
 * bias corrections computed in double as Python does, and {@code p += -(lr/bc1) * m / (sqrt(v)/sqrt(bc2) + eps)}.
 * Run by torch's own operators in libtorch ({@link OptimizerKernels}), so the rounding is torch's.
 */
public final class AdamW implements Optimizer {

  private final List<Param> params;
  private final double beta1;
  private final double beta2;
  private final double eps;
  private final NDManager stateManager;
  /** Per parameter: weight_decay, or 0 where it is exempt (torch's parameter groups). */
  private final double[] weightDecays;
  private final OptimizerKernels kernels;
  /** Moments in parameter order (the kernels take them as lists beside the parameters). */
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
    this.stateManager = params.get(0).array().getManager().newSubManager();
    for (Param p : params) {
      expAvg.put(p.name(), stateManager.zeros(p.array().getShape(), p.array().getDataType()));
      expAvgSq.put(p.name(), stateManager.zeros(p.array().getShape(), p.array().getDataType()));
    }
    this.weightDecays = params.stream().mapToDouble(p -> p.decay() ? weightDecay : 0).toArray();
    this.kernels = OptimizerKernels.load(stateManager);
  }

  @Override
  public void step(double lr) {
    step++;
    kernels.adamw(params, List.copyOf(expAvg.values()), List.copyOf(expAvgSq.values()), weightDecays, step, lr,
        beta1, beta2, eps);
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
    // In place (never NDArray.set(Buffer): that would alias a Java buffer); a checkpoint read on the host is
    // copied to the device of the state first.
    NDArray onDevice = source.getDevice().equals(target.getDevice()) ? source
        : source.toDevice(target.getDevice(), false);
    target.muli(0).addi(onDevice.toType(target.getDataType(), false));
  }

  @Override
  public void close() {
    kernels.close();
    stateManager.close();
  }
}
