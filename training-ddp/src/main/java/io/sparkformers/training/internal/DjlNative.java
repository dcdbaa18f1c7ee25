package io.sparkformers.training.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Two entry points of DJL's JNI library that DJL's public API does not reach, through its package-private
 * {@code ai.djl.pytorch.jni.PyTorchLibrary}:
 * <ul>
 *   <li>{@code moduleRunMethod} with {@code isTrain} true: DJL's own {@code IValueUtils.runMethod} always passes
 *       false, which runs a TorchScript method under {@code c10::InferenceMode}, where nothing is recorded for
 *       backward; with true the method runs in the caller's grad mode and autograd records its operations.</li>
 *   <li>{@code torchDirectByteBuffer}: a direct buffer over a tensor's own memory without a copy. The JNI does
 *       not check the device, so for a CUDA tensor the buffer's address is the device pointer (which must never
 *       be read or written from Java, only passed on, e.g. to NCCL); DJL's public {@code toByteBuffer} copies
 *       a CUDA tensor to the host first.</li>
 * </ul>
 * Reached by reflection rather than by a class of ours in DJL's package: such a class would split the package
 * across two jars, which the module path refuses (DJL's jars declare automatic module names) and which breaks
 * as soon as either jar is sealed or shaded differently. Reflection on the class path needs no JVM flag.
 */
public final class DjlNative {
  private static final MethodHandle RUN_METHOD;
  private static final MethodHandle DIRECT_BUFFER;
  private static final MethodHandle NEW_IVALUE;
  private static final Object LIB;

  static {
    try {
      Class<?> lib = Class.forName("ai.djl.pytorch.jni.PyTorchLibrary");
      Field field = lib.getDeclaredField("LIB");
      field.setAccessible(true);
      LIB = field.get(null);
      Method run = lib.getDeclaredMethod("moduleRunMethod", long.class, String.class, long[].class, boolean.class,
          boolean.class);
      run.setAccessible(true);
      Method direct = lib.getDeclaredMethod("torchDirectByteBuffer", long.class);
      direct.setAccessible(true);
      Constructor<IValue> ctor = IValue.class.getDeclaredConstructor(long.class);
      ctor.setAccessible(true);
      MethodHandles.Lookup lookup = MethodHandles.lookup();
      RUN_METHOD = lookup.unreflect(run);
      DIRECT_BUFFER = lookup.unreflect(direct);
      NEW_IVALUE = lookup.unreflectConstructor(ctor);
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw new ExceptionInInitializerError(new IllegalStateException("this DJL PyTorch engine lacks the JNI entry"
          + " points sparkformers uses (PyTorchLibrary.moduleRunMethod, torchDirectByteBuffer); DJL 0.36 has them",
          e));
    }
  }

  private DjlNative() {}

  /**
   * Runs TorchScript {@code method} of {@code module} with autograd recording as this thread's grad mode says
   * (torch's {@code module.method(...)} outside {@code inference_mode}). The arguments stay open (the caller's).
   */
  public static IValue runTraining(PtSymbolBlock module, String method, IValue... args) {
    long[] handles = new long[args.length];
    for (int i = 0; i < args.length; i++) {
      handles[i] = args[i].getHandle();
    }
    try {
      long result = (long) RUN_METHOD.invoke(LIB, module.getHandle().longValue(), method, handles, true, false);
      return (IValue) NEW_IVALUE.invoke(result);
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

  /**
   * A direct buffer over {@code array}'s memory, in native byte order, without a copy: host memory for a CPU
   * tensor, a device address for a CUDA one (never dereference it from Java). The array must be contiguous and
   * under 2 GiB; it must stay open while the buffer is used.
   */
  public static ByteBuffer memory(NDArray array) {
    try {
      ByteBuffer b = (ByteBuffer) DIRECT_BUFFER.invoke(LIB, ((PtNDArray) array).getHandle().longValue());
      return b.order(ByteOrder.nativeOrder());
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }
}
