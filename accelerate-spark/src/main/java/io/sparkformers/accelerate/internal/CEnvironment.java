package io.sparkformers.accelerate.internal;

import com.sun.jna.Library;
import com.sun.jna.Native;

/**
 * The C environment of this process (libc {@code getenv}/{@code setenv}). Java's {@code System.getenv} is a
 * copy taken when the JVM started and cannot be changed; native libraries loaded later (libtorch's libgomp)
 * read this one.
 */
public final class CEnvironment {
  private CEnvironment() {}

  private interface LibC extends Library {
    String getenv(String name);

    int setenv(String name, String value, int overwrite);
  }

  private static final class Holder {
    static final LibC LIBC = Native.load("c", LibC.class);
  }

  /** The variable's value in the C environment, or null. */
  public static String get(String name) {
    return Holder.LIBC.getenv(name);
  }

  /**
   * Sets the variable unless it is set already (overwrite 0: a value someone else set in between wins).
   *
   * @throws IllegalStateException when libc's setenv fails (errno ENOMEM or EINVAL)
   */
  public static void setIfAbsent(String name, String value) {
    if (Holder.LIBC.setenv(name, value, 0) != 0) {
      throw new IllegalStateException("setenv(" + name + ") failed: errno " + Native.getLastError());
    }
  }
}
