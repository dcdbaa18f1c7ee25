package io.sparkformers.datasets.internal;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.UUID;

/** Fingerprints: 16 hex digits of a SHA-256 over the parts, like Hugging Face's 16-digit xxhash strings. */
public final class Fingerprint {
  private Fingerprint() {}

  /** The fingerprint of a transform: the previous fingerprint, the transform's name, its parameters. */
  public static String of(Object... parts) {
    try {
      MessageDigest digest = MessageDigest.getInstance("SHA-256");
      for (Object part : parts) {
        byte[] bytes = String.valueOf(part).getBytes(StandardCharsets.UTF_8);
        // Length-prefixed, so that ("ab", "c") and ("a", "bc") differ.
        digest.update(Integer.toString(bytes.length).getBytes(StandardCharsets.US_ASCII));
        digest.update((byte) ':');
        digest.update(bytes);
      }
      return HexFormat.of().formatHex(digest.digest(), 0, 8);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The fingerprint of a list of row indices (all of them, not a 32-bit hash that two lists could share). */
  public static String ofIndices(long[] rows) {
    try {
      MessageDigest digest = MessageDigest.getInstance("SHA-256");
      java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(8 * 1024);
      for (long r : rows) {
        if (!buf.hasRemaining()) {
          buf.flip();
          digest.update(buf);
          buf.clear();
        }
        buf.putLong(r);
      }
      buf.flip();
      digest.update(buf);
      return HexFormat.of().formatHex(digest.digest(), 0, 8) + ":" + rows.length;
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A fingerprint that matches nothing else, for results that cannot be cached. */
  public static String random() {
    return of("random", UUID.randomUUID());
  }
}
