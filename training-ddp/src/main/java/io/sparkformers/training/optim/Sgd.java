package io.sparkformers.training.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.sparkformers.training.internal.NoGrad;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code torch.optim.SGD}: {@code d = g + wd*p}; with momentum {@code buf = d} on the first step, then
 * {@code buf = momentum*buf + (1-dampening)*d}; {@code d = d + momentum*buf} under Nesterov, else
 * {@code d = buf}; {@code p += -lr*d}.
 */
public final class Sgd implements Optimizer {

  private final List<Param> params;
  private final double momentum;
  private final double dampening;
  private final double weightDecay;
  private final boolean nesterov;
  private final NDManager stateManager;
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
    this.weightDecay = weightDecay;
    this.nesterov = nesterov;
    this.stateManager = params.get(0).array().getManager().newSubManager();
  }

  @Override
  public void step(double lr) {
    try (NoGrad ignored = new NoGrad()) {
      for (Param p : params) {
        NDArray param = p.array();
        NDArray grad = param.getGradient();
        try (NDManager scratch = stateManager.newSubManager()) {
          grad.attach(scratch); // the handle only; the gradient's memory stays with the parameter
          // d starts as the gradient itself and is built up in place in it (the gradient is consumed).
          NDArray d = grad;
          if (weightDecay != 0 && p.decay()) {
            d.addi(AdamW.in(scratch, param.mul((float) weightDecay)));
          }
          if (momentum != 0) {
            NDArray buf = momentumBuffer.get(p.name());
            if (buf == null) {
              buf = d.duplicate();
              buf.attach(stateManager);
              momentumBuffer.put(p.name(), buf);
            } else if (dampening == 0) {
              buf.muli((float) momentum).addi(d); // (1 - 0) * d is d: no temporary
            } else {
              buf.muli((float) momentum).addi(AdamW.in(scratch, d.mul((float) (1 - dampening))));
            }
            if (nesterov) {
              d.addi(AdamW.in(scratch, buf.mul((float) momentum)));
            } else {
              // p -= lr * buf: the buffer is state and must stay as it is, so the product is a temporary.
              param.subi(AdamW.in(scratch, buf.mul((float) lr)));
              continue;
            }
          }
          // p += -lr * d, rounded as before (-(lr*d) is exactly -lr*d), without a temporary.
          param.subi(d.muli((float) lr));
        }
      }
    }
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
    try (NoGrad ignored = new NoGrad()) {
      for (Param p : params) {
        NDArray source = state.get(p.name() + ".momentum_buffer");
        if (source != null) {
          NDArray buf = stateManager.zeros(p.array().getShape(), p.array().getDataType());
          AdamW.copyInto(state, p.name() + ".momentum_buffer", buf);
          momentumBuffer.put(p.name(), buf);
        } else if (momentum != 0 && !momentumBuffer.isEmpty()) {
          throw new IllegalArgumentException("optimizer state lacks '" + p.name() + ".momentum_buffer'");
        }
      }
    }
  }

  @Override
  public void close() {
    stateManager.close();
  }
}
