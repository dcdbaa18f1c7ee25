package io.sparkformers.accelerate.internal;

import io.sparkformers.accelerate.ElementType;
import java.nio.ByteBuffer;

/** Argument checks shared by the process groups, with messages that say what was expected. */
public final class Buffers {
  private Buffers() {}

  /** Checks that {@code buffer} holds whole elements of {@code type}; returns its remaining bytes. */
  public static int checkElements(String what, ByteBuffer buffer, ElementType type) {
    if (buffer == null) {
      throw new NullPointerException(what + " buffer is null");
    }
    if (type == null) {
      throw new NullPointerException("element type is null");
    }
    int bytes = buffer.remaining();
    if (bytes % type.bytes() != 0) {
      throw new IllegalArgumentException(what + " buffer holds " + bytes + " bytes, not a whole number of "
          + type + " elements (" + type.bytes() + " bytes each)");
    }
    return bytes;
  }

  public static void checkRank(String what, int rank, int worldSize) {
    if (rank < 0 || rank >= worldSize) {
      throw new IllegalArgumentException(what + " rank " + rank + " is outside 0.." + (worldSize - 1));
    }
  }

  /** Copies {@code bytes} bytes between absolute offsets, leaving both buffers' positions alone. */
  public static void copy(ByteBuffer src, int srcOff, ByteBuffer dst, int dstOff, int bytes) {
    dst.duplicate().position(dstOff).put(Reducer.view(src, srcOff, bytes));
  }
}
