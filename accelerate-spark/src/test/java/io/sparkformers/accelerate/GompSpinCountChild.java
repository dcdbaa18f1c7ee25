package io.sparkformers.accelerate;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;

/**
 * A JVM of its own for {@link GompSpinCountTest}: calls {@link GompSpinCount#setIfMissing()}, optionally after
 * or before loading a libgomp ({@code load-first LIB} or {@code load-after LIB}, a name or an absolute path),
 * and prints the outcome and the variable as C's getenv sees it (its own binding, not the code under test) and
 * as Java's frozen copy of the environment holds it.
 */
public final class GompSpinCountChild {
  // Held: JNA closes (dlclose) a library whose NativeLibrary object is collected, unmapping libgomp again.
  private static NativeLibrary libgomp;

  private GompSpinCountChild() {}

  interface LibC extends Library {
    String getenv(String name);
  }

  public static void main(String[] args) {
    if (args.length == 2 && args[0].equals("load-first")) {
      libgomp = NativeLibrary.getInstance(args[1]);
    }
    GompSpinCount.Outcome outcome = GompSpinCount.setIfMissing();
    GompSpinCount.Outcome again = GompSpinCount.setIfMissing();
    if (args.length == 2 && args[0].equals("load-after")) {
      libgomp = NativeLibrary.getInstance(args[1]);
    }
    String c = Native.load("c", LibC.class).getenv("GOMP_SPINCOUNT");
    System.out.println("outcome=" + outcome + " again=" + again + " c_getenv=" + c + " java_getenv="
        + System.getenv("GOMP_SPINCOUNT") + " libgomp_loaded=" + GompSpinCount.libgompLoaded());
  }
}
