package io.sparkformers.training.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.JniUtils;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * torch's autocast for the matrix products: while a scope is entered on a thread ({@link #enter()}),
 * {@code Ops.linear} and {@code Ops.matmul} on that thread multiply in bfloat16 (or float16) and everything else
 * stays float32, so the weights, their gradients and the optimizer state remain float32 (transformers'
 * {@code bf16=True}). The operands are cast and multiplied inside libtorch by a TorchScript module
 * ({@code training-ddp/src/main/torchscript/autocast_kernels.py}) run in training mode, so autograd records the
 * casts and the product; the product is widened to float32 before it returns. DJL 0.36's JNI aborts the JVM
 * (a bare C++ {@code throw;}) on any call that names the bfloat16 dtype, and reports a bfloat16 tensor's dtype
 * as UNKNOWN, which the next dtype-passing call would abort on: so no half-precision tensor ever reaches Java.
 * The one difference from torch: the elementwise operations torch would then run on a half-precision product
 * (an activation, a product of two projections) run on its exact float32 widening here, with one rounding
 * fewer.
 */
public final class Autocast implements AutoCloseable {
  private static final ThreadLocal<Autocast> ACTIVE = new ThreadLocal<>();

  private final MixedPrecision precision;
  private final PtSymbolBlock module;

  private Autocast(MixedPrecision precision, PtSymbolBlock module) {
    this.precision = precision;
    this.module = module;
  }

  /** Loads the kernels into {@code manager} (on its device) for {@code precision}. */
  public static Autocast load(NDManager manager, MixedPrecision precision) {
    try (InputStream in = Autocast.class.getResourceAsStream("autocast_kernels.pt")) {
      if (in == null) {
        throw new IllegalStateException("autocast_kernels.pt is missing from the class path next to "
            + Autocast.class.getName() + " (a broken build of sparkformers-training)");
      }
      return new Autocast(precision, JniUtils.loadModule((PtNDManager) manager, in, true, false));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read autocast_kernels.pt", e);
    }
  }

  /** The autocast entered on this thread, or null. */
  public static Autocast active() {
    return ACTIVE.get();
  }

  public MixedPrecision precision() {
    return precision;
  }

  /** Makes this autocast the thread's until the returned scope closes (which restores the previous one). */
  public Scope enter() {
    Autocast previous = ACTIVE.get();
    ACTIVE.set(this);
    return () -> {
      if (previous == null) {
        ACTIVE.remove();
      } else {
        ACTIVE.set(previous);
      }
    };
  }

  /** A scope of {@link #enter()}; closing it throws nothing. */
  public interface Scope extends AutoCloseable {
    @Override
    void close();
  }

  /** torch.nn.functional.linear in the half type, widened to float32 ({@code bias} may be null). */
  public NDArray linear(NDArray x, NDArray weight, NDArray bias) {
    requireFloat32(x, "linear input");
    requireFloat32(weight, "linear weight");
    return bias == null ? call("linear", x, x, weight) : call("linear_bias", x, x, weight, bias);
  }

  /** torch.matmul in the half type, widened to float32. */
  public NDArray matmul(NDArray a, NDArray b) {
    requireFloat32(a, "matmul operand");
    requireFloat32(b, "matmul operand");
    return call("matmul", a, a, b);
  }

  /** {@code x} rounded to the half type and widened back: the value a half-precision tensor would hold. */
  public NDArray roundTrip(NDArray x) {
    requireFloat32(x, "round_trip input");
    return call("round_trip", x, x);
  }

  /**
   * The kernels take float32 (the model's parameters and activations); anything else is refused here, before
   * it reaches libtorch, with the operation named.
   */
  private static void requireFloat32(NDArray a, String what) {
    DataType t = a.getDataType();
    if (t != DataType.FLOAT32) {
      throw new IllegalArgumentException("autocast " + what + " must be float32, got " + t
          + (t == DataType.UNKNOWN ? " (a bfloat16 tensor: DJL cannot name that dtype)" : ""));
    }
  }

  /** Runs {@code method} over the tensors and the precision flag; the result goes to {@code owner}'s manager. */
  private NDArray call(String method, NDArray owner, NDArray... tensors) {
    IValue[] args = new IValue[tensors.length + 1];
    try {
      for (int i = 0; i < tensors.length; i++) {
        args[i] = IValue.from((PtNDArray) tensors[i]);
      }
      args[tensors.length] = IValue.from(precision == MixedPrecision.FP16);
      try (IValue result = DjlNative.runTraining(module, method, args)) {
        return result.toTensor((PtNDManager) owner.getManager());
      }
    } finally {
      for (IValue a : args) {
        if (a != null) {
          a.close();
        }
      }
    }
  }

  @Override
  public void close() {
    module.close();
  }
}
