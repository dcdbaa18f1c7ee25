package io.sparkformers.training.optim;

import static io.sparkformers.training.internal.TorchScriptKernels.tensors;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.IValue;
import io.sparkformers.training.internal.TorchScriptKernels;
import java.util.ArrayList;
import java.util.List;

/**
 * torch.optim's single-tensor update loops as TorchScript methods, run inside libtorch: one native call per
 * step, every parameter updated in place by torch's own operators ({@code add_} with alpha, {@code addcmul_},
 * {@code addcdiv_}), so the rounding is torch's and no temporary the size of the model is made. DJL exposes none
 * of those fused in-place operators; composing the update from its operators took two to four times as many
 * passes over memory. The module ({@code optimizer_kernels.pt}) is written by
 * {@code src/main/torchscript/optimizer_kernels.py}, which holds the readable source.
 */
final class OptimizerKernels implements AutoCloseable {
  private final TorchScriptKernels module;

  private OptimizerKernels(TorchScriptKernels module) {
    this.module = module;
  }

  /** Loads the kernels into {@code manager} (closed with it, or by {@link #close()}). */
  static OptimizerKernels load(NDManager manager) {
    return new OptimizerKernels(TorchScriptKernels.load(manager, OptimizerKernels.class, "optimizer_kernels.pt"));
  }

  /** torch's {@code _single_tensor_sgd}; {@code firstStep}: the momentum buffers are new and take d_p. */
  void sgd(List<Param> params, List<NDArray> momentumBuffers, double[] weightDecays, double lr, double momentum,
      double dampening, boolean nesterov, boolean firstStep) {
    List<NDArray> grads = gradients(params);
    try {
      module.run("sgd", tensors(arrays(params)), tensors(grads), tensors(momentumBuffers),
          IValue.listFrom(weightDecays), IValue.from(lr), IValue.from(momentum), IValue.from(dampening),
          IValue.from(nesterov), IValue.from(firstStep));
    } finally {
      grads.forEach(NDArray::close);
    }
  }

  /** torch's {@code _single_tensor_adamw}; {@code step} is the step count including this update. */
  void adamw(List<Param> params, List<NDArray> expAvgs, List<NDArray> expAvgSqs, double[] weightDecays,
      long step, double lr, double beta1, double beta2, double eps) {
    List<NDArray> grads = gradients(params);
    try {
      module.run("adamw", tensors(arrays(params)), tensors(grads), tensors(expAvgs), tensors(expAvgSqs),
          IValue.listFrom(weightDecays), IValue.from((double) step), IValue.from(lr), IValue.from(beta1),
          IValue.from(beta2), IValue.from(eps));
    } finally {
      grads.forEach(NDArray::close);
    }
  }

  /** A handle on each parameter's gradient (closed after the call; the memory stays with the parameter). */
  private static List<NDArray> gradients(List<Param> params) {
    List<NDArray> grads = new ArrayList<>(params.size());
    try {
      for (Param p : params) {
        grads.add(p.array().getGradient());
      }
    } catch (RuntimeException e) {
      grads.forEach(NDArray::close);
      throw e;
    }
    return grads;
  }

  private static List<NDArray> arrays(List<Param> params) {
    return params.stream().map(Param::array).toList();
  }

  @Override
  public void close() {
    module.close();
  }
}
