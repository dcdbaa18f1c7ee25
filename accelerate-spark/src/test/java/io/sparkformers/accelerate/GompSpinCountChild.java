package io.sparkformers.accelerate;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;

/**
 * A JVM of its own for {@link GompSpinCountTest}: optionally loads libgomp first, calls
 * {@link GompSpinCount#setIfMissing()} and prints the outcome and the variable as C's getenv sees it (its own
 * binding, not the code under test) and as Java's frozen copy of the environment holds it.
 */
public final class GompSpinCountChild {
  // Held: JNA closes (dlclose) a library whose NativeLibrary object is collected, unmapping libgomp again.
  private static NativeLibrary libgomp;

  private GompSpinCountChild() {}

  interface LibC extends Library {
    String getenv(String name);
  }

  public static void main(String[] args) {
    if (args.length > 0 && args[0].equals("load-libgomp-first")) {
      libgomp = NativeLibrary.getInstance("libgomp.so.1");
    }
    GompSpinCount.Outcome outcome = GompSpinCount.setIfMissing();
    GompSpinCount.Outcome again = GompSpinCount.setIfMissing();
    String c = Native.load("c", LibC.class).getenv("GOMP_SPINCOUNT");
    System.out.println("outcome=" + outcome + " again=" + again + " c_getenv=" + c + " java_getenv="
        + System.getenv("GOMP_SPINCOUNT") + " libgomp_loaded=" + GompSpinCount.libgompLoaded());
  }
}
