package io.sparkformers.training.peft.internal;

import ai.djl.ndarray.NDArray;
import io.sparkformers.training.models.internal.Ops;
import io.sparkformers.training.models.nn.Init;
import io.sparkformers.training.models.nn.Linear;
import io.sparkformers.training.models.nn.LinearAdapter;
import io.sparkformers.training.models.nn.LinearLayer;
import io.sparkformers.training.models.nn.Module;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * PEFT's LoRA layer on a frozen {@link LinearLayer} (a Linear, or GPT-2's Conv1D, which PEFT adapts with
 * fan_in_fan_out): y = base(x) + lora_B(lora_A(dropout(x)))·scaling, with {@code lora_A} [r, in] and
 * {@code lora_B} [out, r] as the layer's children named as PEFT's files name them, whatever the base's layout.
 */
public final class LoraLinear implements LinearAdapter {
  private final LinearLayer base;
  private final Linear loraA;
  private final Linear loraB;
  private final double scaling;
  private final double dropout;
  private boolean training;

  /**
   * {@code init}: "true" is PEFT's default (A as kaiming_uniform_(a=√5), i.e. U(±1/√in); B zeros); "false"
   * leaves both as nn.Linear initialises them; "gaussian" draws A from N(0, 1/r²) with B zeros.
   */
  public LoraLinear(LinearLayer base, int r, double scaling, double dropout, String init) {
    this.base = base;
    this.scaling = scaling;
    this.dropout = dropout;
    long in = base.inFeatures();
    long out = base.outFeatures();
    Init aInit = init.equals("gaussian") ? Init.normal(1.0 / r) : Init.uniform(1.0 / Math.sqrt(in));
    Init bInit = init.equals("false") ? Init.uniform(1.0 / Math.sqrt(r)) : Init.zeros();
    this.loraA = new Linear(in, r, aInit, null);
    this.loraB = new Linear(r, out, bInit, null);
  }

  @Override
  public Map<String, Module> modules() {
    Map<String, Module> m = new LinkedHashMap<>();
    m.put("lora_A", loraA);
    m.put("lora_B", loraB);
    return m;
  }

  public LinearLayer base() {
    return base;
  }

  public Linear loraA() {
    return loraA;
  }

  public Linear loraB() {
    return loraB;
  }

  public double scaling() {
    return scaling;
  }

  /** Dropout is applied only in training, as with torch's module.train(). */
  public void setTraining(boolean training) {
    this.training = training;
  }

  @Override
  public NDArray forward(NDArray x, NDArray baseOutput) {
    NDArray delta = loraB.forward(loraA.forward(Ops.dropout(x, dropout, training)));
    return baseOutput.add(Ops.mul(delta, scaling));
  }

  /**
   * W += B·A·scaling ((B·A)ᵀ·scaling for a weight stored [in, out]): the base layer alone then computes what
   * base + adapter computed.
   */
  public void mergeIntoBase() {
    NDArray w = base.weight().array();
    try (NDArray ba = loraB.weight().array().matMul(loraA.weight().array());
         NDArray transposed = base.weightIsTransposed() ? ba.transpose() : null; // null: not opened
         NDArray delta = Ops.mul(transposed != null ? transposed : ba, scaling)) {
      w.addi(delta.toType(w.getDataType(), false));
    }
  }
}
