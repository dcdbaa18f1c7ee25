package io.sparkformers.training.internal;

import ai.djl.ndarray.NDArray;
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

  /** The tensor's own memory as a little-endian buffer (native order on x86). */
  public static ByteBuffer view(NDArray array) {
    ByteBuffer b = array.toByteBuffer(true);
    if (!b.isDirect()) {
      throw new IllegalStateException("DJL returned a copy, not a view, of tensor " + array.getName()
          + " " + array.getShape() + ": it is not contiguous");
    }
    return b.order(ByteOrder.nativeOrder());
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
    view(target).put(file.readBytes(name));
  }
}
