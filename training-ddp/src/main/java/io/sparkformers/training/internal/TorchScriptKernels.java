package io.sparkformers.training.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.pytorch.jni.JniUtils;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;

/**
 * A TorchScript module shipped as a class-path resource, whose methods run inside libtorch: for in-place
 * tensor work DJL does not expose (torch's fused optimizer operators, {@code Tensor.set_}). Each module's
 * readable source and the command that wrote it live in {@code training-ddp/src/main/torchscript/}; the
 * archives are generated once with Debian's python3-torch 1.13 and committed, so the build needs no Python.
 */
public final class TorchScriptKernels implements AutoCloseable {
  private final PtSymbolBlock module;

  private TorchScriptKernels(PtSymbolBlock module) {
    this.module = module;
  }

  /** Loads resource {@code name} next to class {@code anchor} into {@code manager} (closed with it). */
  public static TorchScriptKernels load(NDManager manager, Class<?> anchor, String name) {
    try (InputStream in = anchor.getResourceAsStream(name)) {
      if (in == null) {
        throw new IllegalStateException(name + " is missing from the class path next to " + anchor.getName()
            + " (a broken build of sparkformers-training)");
      }
      return new TorchScriptKernels(JniUtils.loadModule((PtNDManager) manager, in, true, false));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + name, e);
    }
  }

  /** Runs {@code method} with {@code args}, which it closes. */
  public void run(String method, IValue... args) {
    try {
      IValueUtils.runMethod(module, method, args).close();
    } finally {
      for (IValue a : args) {
        a.close();
      }
    }
  }

  /** Runs {@code method}, which returns a {@code bool}, with {@code args} (closed here). */
  public boolean test(String method, IValue... args) {
    try (IValue result = IValueUtils.runMethod(module, method, args)) {
      return result.toBoolean();
    } finally {
      for (IValue a : args) {
        a.close();
      }
    }
  }

  /**
   * Runs {@code method}, which returns a tensor or a {@code List[Tensor]}, with {@code args} (closed here); the
   * tensors come back attached to {@code manager}. DJL runs methods in inference mode: a tensor made inside
   * cannot be saved for backward, so outputs that must be pass in allocated by the caller.
   */
  public NDArray[] call(String method, NDManager manager, IValue... args) {
    try (IValue result = IValueUtils.runMethod(module, method, args)) {
      return result.isTensor() ? new NDArray[] {result.toTensor((PtNDManager) manager)}
          : result.toTensorArray((PtNDManager) manager);
    } finally {
      for (IValue a : args) {
        a.close();
      }
    }
  }

  /** A TorchScript {@code List[Tensor]}. */
  public static IValue tensors(List<NDArray> arrays) {
    return IValue.listFrom(arrays.stream().map(a -> (PtNDArray) a).toArray(PtNDArray[]::new));
  }

  @Override
  public void close() {
    module.close();
  }
}
