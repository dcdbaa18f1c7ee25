package io.sparkformers.accelerate;

/** The element types collectives move and reduce; buffers hold them little-endian (native order). */
public enum ElementType {
  FLOAT32(4),
  FLOAT16(2),
  INT32(4),
  INT64(8),
  /** For metric values (sums of losses, counts) that must not lose precision; not for gradients. */
  FLOAT64(8);

  private final int bytes;

  ElementType(int bytes) {
    this.bytes = bytes;
  }

  /** Size of one element in bytes. */
  public int bytes() {
    return bytes;
  }
}
