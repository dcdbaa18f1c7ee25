package io.sparkformers.training.internal;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import io.sparkformers.training.models.SafeTensorsFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Reads and writes tensor memory through DJL's zero-copy view ({@code toByteBuffer(true)}), never through
 * {@code NDArray.set(Buffer)} (which would alias a Java buffer the GC frees).
 */
public final class Views {
  private Views() {}

  /**
   * The tensor's own memory as a little-endian buffer (native order on x86). Host tensors only: for a tensor on
   * a GPU DJL would return a host copy, and writes through it would be lost, so that is refused.
   */
  public static ByteBuffer view(NDArray array) {
    if (!array.getDevice().equals(Device.cpu())) {
      throw new IllegalStateException("tensor " + array.getName() + " " + array.getShape() + " lives on "
          + array.getDevice() + ": Java cannot view its memory (copy it to the host, or build it there first)");
    }
    ByteBuffer b = array.toByteBuffer(true);
    if (!b.isDirect()) {
      throw new IllegalStateException("DJL returned a copy, not a view, of tensor " + array.getName()
          + " " + array.getShape() + ": it is not contiguous");
    }
    return b.order(ByteOrder.nativeOrder());
  }

  /** The tensor's values as a native-order buffer to read: its own memory on the CPU, a host copy elsewhere. */
  public static ByteBuffer read(NDArray array) {
    return array.getDevice().equals(Device.cpu()) ? view(array)
        : array.toByteBuffer().order(ByteOrder.nativeOrder());
  }

  /**
   * The manager to build a tensor for {@code manager} on in host memory: {@code manager} itself on the CPU, else a
   * CPU child of it (close it after {@link #moveTo}).
   */
  public static NDManager hostManager(NDManager manager) {
    return manager.getDevice().equals(Device.cpu()) ? manager : manager.newSubManager(Device.cpu());
  }

  /** {@code host} itself when {@code manager} is on the CPU, else a copy on its device, attached to it. */
  public static NDArray moveTo(NDArray host, NDManager manager) {
    if (host.getDevice().equals(manager.getDevice())) {
      return host;
    }
    NDArray moved = host.toDevice(manager.getDevice(), false);
    moved.attach(manager);
    return moved;
  }

  /**
   * Overwrites the tensor's memory with tensor {@code name} of {@code file}, after checking that it is there
   * with the same dtype and shape; errors name the file and the tensor.
   */
  public static void copyInto(SafeTensorsFile file, String name, NDArray target) throws IOException {
    SafeTensorsFile.TensorInfo info = file.tensors().get(name);
    if (info == null) {
      throw new IllegalArgumentException(file.file() + ": no tensor '" + name + "'");
    }
    SafeTensorsFile.SafeTensorsDtype want = SafeTensorsFile.SafeTensorsDtype.of(target.getDataType());
    if (want != info.dtype()) {
      throw new IllegalArgumentException(file.file() + ": tensor '" + name + "': expected dtype " + want
          + ", found " + info.dtype());
    }
    if (!java.util.Arrays.equals(info.shape(), target.getShape().getShape())) {
      throw new IllegalArgumentException(file.file() + ": tensor '" + name + "': expected shape "
          + target.getShape() + ", found " + java.util.Arrays.toString(info.shape()));
    }
    if (target.getDevice().equals(Device.cpu())) {
      view(target).put(file.readBytes(name));
      return;
    }
    // On a device: read into a host tensor, then copy it over in place (torch's copy_, not recorded).
    try (NDManager host = target.getManager().newSubManager(Device.cpu())) {
      NDArray staged = host.create(target.getShape(), target.getDataType());
      view(staged).put(file.readBytes(name));
      int dims = target.getShape().dimension();
      long[] from = new long[dims];
      long[] step = new long[dims];
      java.util.Arrays.fill(step, 1);
      try (NoGrad ignored = new NoGrad()) {
        JniUtils.indexSet((PtNDArray) target, (PtNDArray) staged, from, target.getShape().getShape(), step);
      }
    }
  }
}
