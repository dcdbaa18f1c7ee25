package io.sparkformers.accelerate;

import io.sparkformers.accelerate.internal.CEnvironment;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Lets libtorch's OpenMP threads (libgomp) spin briefly for the next operator instead of sleeping after each
 * one: {@code GOMP_SPINCOUNT=10000} in the process environment. Without it two intra-op threads train a small
 * model up to 5× slower. libgomp reads the variable once, when it is loaded (DJL loads libtorch, and libgomp
 * with it, on the first use of its engine), so it must be in the C environment before that.
 *
 * <p>The launchers call {@link #setIfMissing()} before a rank function runs ({@link BarrierLauncher}'s tasks,
 * {@link RankContext#singleRank}, {@link ProcessGroups}); a notebook that builds a model before training
 * should call it first. A value already in the environment (exported, or
 * {@code spark.executorEnv.GOMP_SPINCOUNT}) always wins.
 */
public final class GompSpinCount {
  private static final Logger LOG = LoggerFactory.getLogger(GompSpinCount.class);
  /** The environment variable libgomp reads. */
  public static final String VARIABLE = "GOMP_SPINCOUNT";
  /** About 0.1 ms of spinning; the value {@code ./sparkformers} and the train job set. */
  public static final String DEFAULT_VALUE = "10000";

  private static Outcome outcome;

  private GompSpinCount() {}

  /** What {@link #setIfMissing()} found and did. */
  public enum Outcome {
    /** It was not set and libgomp was not loaded: set to {@link #DEFAULT_VALUE}. */
    SET,
    /** It was set already (by the user): kept. */
    KEPT,
    /** It was not set but libgomp was loaded already: too late in this JVM, a warning was logged. */
    TOO_LATE,
    /** The C environment could not be reached (no libc through JNA): nothing done, a warning was logged. */
    UNAVAILABLE,
    /** Not Linux: libtorch uses another OpenMP runtime there (libomp on macOS), which ignores it. */
    NOT_LINUX
  }

  /**
   * Sets {@code GOMP_SPINCOUNT=10000} in this process's C environment if it is missing and libgomp is not
   * loaded yet; once per JVM (later calls return the first outcome).
   */
  public static synchronized Outcome setIfMissing() {
    // The same moment, before libtorch loads, is when DJL probes for GPUs.
    GpuDetection.quietProbeWithoutDriver();
    if (outcome == null) {
      outcome = apply();
    }
    return outcome;
  }

  private static Outcome apply() {
    if (!System.getProperty("os.name", "").startsWith("Linux")) {
      return Outcome.NOT_LINUX;
    }
    try {
      String current = CEnvironment.get(VARIABLE);
      if (current != null) {
        LOG.info("{}={} from the environment kept (libtorch's OpenMP threads)", VARIABLE, current);
        return Outcome.KEPT;
      }
      if (libgompLoaded()) {
        LOG.warn(tooLateMessage());
        return Outcome.TOO_LATE;
      }
      // setenv is not safe against a getenv racing on another thread; this runs once, before any rank work.
      CEnvironment.setIfAbsent(VARIABLE, DEFAULT_VALUE);
      LOG.info("{}={} set in this process's environment before libtorch loads, so that its OpenMP threads spin "
          + "between operators instead of sleeping (export {} to choose another value)", VARIABLE, DEFAULT_VALUE,
          VARIABLE);
      return Outcome.SET;
    } catch (LinkageError | RuntimeException e) {
      LOG.warn("{} could not be set in this process's environment ({}); set it before the JVM starts "
          + "(spark.executorEnv.{}={} or export {}={})", VARIABLE, e, VARIABLE, DEFAULT_VALUE, VARIABLE, DEFAULT_VALUE);
      return Outcome.UNAVAILABLE;
    }
  }

  static String tooLateMessage() {
    return VARIABLE + " is not set and libgomp (libtorch's OpenMP) is already loaded in this JVM, which read the "
        + "environment then: its threads will sleep after every operator (up to 5x slower training). Set it "
        + "before the JVM starts: spark.executorEnv." + VARIABLE + "=" + DEFAULT_VALUE + ", or export " + VARIABLE
        + "=" + DEFAULT_VALUE + " for the driver (local[N]) or a notebook.";
  }

  /** Whether this process has libgomp mapped, from /proc/self/maps (false where that file does not exist). */
  static boolean libgompLoaded() {
    Path maps = Path.of("/proc/self/maps");
    if (!Files.isReadable(maps)) {
      return false;
    }
    try {
      return mapsListLibgomp(Files.readString(maps, StandardCharsets.ISO_8859_1));
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * Whether a /proc/pid/maps text maps a libgomp: the system's {@code libgomp.so.1}, or the copy that libtorch
   * bundles under a hashed name ({@code libgomp-a34b3233.so.1}).
   */
  static boolean mapsListLibgomp(String maps) {
    for (String line : maps.split("\n")) {
      int slash = line.lastIndexOf('/');
      if (slash < 0) {
        continue; // anonymous mappings, [heap], [stack]
      }
      String file = line.substring(slash + 1);
      if (file.startsWith("libgomp.so") || file.startsWith("libgomp-")) {
        return true;
      }
    }
    return false;
  }
}
