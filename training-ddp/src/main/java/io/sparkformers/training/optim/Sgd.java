package io.sparkformers.training.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.sparkformers.training.internal.NoGrad;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code torch.optim.SGD}: {@code d = g + wd*p}; with momentum {@code buf = d} on the first step, then
 * {@code buf = momentum*buf + (1-dampening)*d}; {@code d = d + momentum*buf} under Nesterov, else
 * {@code d = buf}; {@code p += -lr*d}. Run by torch's own operators in libtorch ({@link OptimizerKernels}).
 */
public final class Sgd implements Optimizer {

  private final List<Param> params;
  private final double momentum;
  private final double dampening;
  private final boolean nesterov;
  private final NDManager stateManager;
  /** Per parameter: weight_decay, or 0 where it is exempt (torch's parameter groups). */
  private final double[] weightDecays;
  private final OptimizerKernels kernels;
  /** Momentum buffers by parameter name: none before the first step, then one per parameter. */
  private final Map<String, NDArray> momentumBuffer = new LinkedHashMap<>();

  public Sgd(List<Param> params, double momentum, double dampening, double weightDecay, boolean nesterov) {
    if (params.isEmpty()) {
      throw new IllegalArgumentException("optimizer got an empty parameter list");
    }
    if (nesterov && (momentum <= 0 || dampening != 0)) {
      throw new IllegalArgumentException("Nesterov momentum requires a momentum and zero dampening");
    }
    if (momentum < 0 || weightDecay < 0) {
      throw new IllegalArgumentException("Invalid momentum or weight_decay value: " + momentum + ", "
          + weightDecay);
    }
    this.params = List.copyOf(params);
    this.momentum = momentum;
    this.dampening = dampening;
    this.nesterov = nesterov;
    this.stateManager = params.get(0).array().getManager().newSubManager();
    this.weightDecays = params.stream().mapToDouble(p -> p.decay() ? weightDecay : 0).toArray();
    this.kernels = OptimizerKernels.load(stateManager);
  }

  @Override
  public void step(double lr) {
    boolean firstStep = momentum != 0 && momentumBuffer.isEmpty();
    if (firstStep) {
      for (Param p : params) {
        momentumBuffer.put(p.name(), stateManager.zeros(p.array().getShape(), p.array().getDataType()));
      }
    }
    List<NDArray> buffers = momentum == 0 ? List.of()
        : params.stream().map(p -> momentumBuffer.get(p.name())).toList();
    kernels.sgd(params, buffers, weightDecays, lr, momentum, dampening, nesterov, firstStep);
  }

  @Override
  public Map<String, NDArray> state() {
    Map<String, NDArray> s = new LinkedHashMap<>();
    for (Param p : params) {
      NDArray buf = momentumBuffer.get(p.name());
      if (buf != null) {
        s.put(p.name() + ".momentum_buffer", buf);
      }
    }
    return s;
  }

  @Override
  public void loadState(Map<String, NDArray> state) {
    List<String> missing = new ArrayList<>();
    Map<String, NDArray> loaded = new LinkedHashMap<>();
    try (NoGrad ignored = new NoGrad()) {
      for (Param p : params) {
        String key = p.name() + ".momentum_buffer";
        if (state.get(key) == null) {
          missing.add(key);
          continue;
        }
        NDArray buf = stateManager.zeros(p.array().getShape(), p.array().getDataType());
        AdamW.copyInto(state, key, buf);
        loaded.put(p.name(), buf);
      }
    }
    // All buffers or none (a state saved before the first step): torch keeps one per parameter once it ran.
    if (!loaded.isEmpty() && !missing.isEmpty()) {
      loaded.values().forEach(NDArray::close);
      throw new IllegalArgumentException("optimizer state lacks '" + missing.get(0) + "'"
          + (missing.size() > 1 ? " and " + (missing.size() - 1) + " more momentum buffers" : ""));
    }
    momentumBuffer.values().forEach(NDArray::close);
    momentumBuffer.clear();
    momentumBuffer.putAll(loaded);
  }

  @Override
  public void close() {
    kernels.close();
    stateManager.close();
  }
}
