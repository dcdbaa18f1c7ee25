package io.sparkformers.training.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import io.sparkformers.training.checkpoint.SafeTensors;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Reads and writes tensor memory through DJL's zero-copy view ({@code toByteBuffer(true)}), never through
 * {@code NDArray.set(Buffer)} (which would alias a Java buffer the GC frees; STACK.md).
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

  /** A copy of the tensor as a safetensors tensor. */
  public static SafeTensors.Tensor toTensor(NDArray array) {
    ByteBuffer src = array.toByteBuffer(false).order(ByteOrder.LITTLE_ENDIAN);
    ByteBuffer copy = ByteBuffer.allocate(src.remaining()).order(ByteOrder.LITTLE_ENDIAN);
    copy.put(src.duplicate());
    copy.flip();
    return new SafeTensors.Tensor(dtype(array.getDataType()), array.getShape().getShape(), copy);
  }

  /** Overwrites the tensor's memory with {@code source}'s bytes, after checking dtype and shape. */
  public static void copyInto(SafeTensors.Tensor source, NDArray target, String name) {
    String want = dtype(target.getDataType());
    if (!want.equals(source.dtype())) {
      throw new IllegalArgumentException("tensor '" + name + "': expected dtype " + want + ", found "
          + source.dtype());
    }
    if (!java.util.Arrays.equals(source.shape(), target.getShape().getShape())) {
      throw new IllegalArgumentException("tensor '" + name + "': expected shape " + target.getShape()
          + ", found " + java.util.Arrays.toString(source.shape()));
    }
    ByteBuffer dst = view(target);
    dst.put(source.data().duplicate());
  }

  public static String dtype(DataType t) {
    return switch (t) {
      case FLOAT32 -> "F32";
      case FLOAT64 -> "F64";
      case FLOAT16 -> "F16";
      case INT64 -> "I64";
      case INT32 -> "I32";
      case INT8 -> "I8";
      case UINT8 -> "U8";
      case BOOLEAN -> "BOOL";
      default -> throw new IllegalArgumentException("no safetensors dtype for " + t);
    };
  }
}
