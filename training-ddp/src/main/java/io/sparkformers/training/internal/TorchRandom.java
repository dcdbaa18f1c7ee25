package io.sparkformers.training.internal;

import ai.djl.engine.Engine;
import java.util.function.Supplier;

/**
 * Reproducible random draws from libtorch's generator, which is one per JVM: ranks that are threads of one JVM
 * (Spark's {@code local[N]}) would otherwise take turns on it in whatever order the scheduler runs them, and
 * a seeded run would give different weights each time. Draws go through a JVM-wide lock, and each is made from
 * a seed of its own: for model initialisation the run's seed; inside a training step, one derived from that
 * thread's step seed and the number of draws it has made in the step, so that what a rank draws never depends
 * on what the other ranks do.
 */
public final class TorchRandom {
  private static final Object LOCK = new Object();
  /** This thread's step stream: {seed, draws made}; absent outside a training step. */
  private static final ThreadLocal<long[]> STREAM = new ThreadLocal<>();

  private TorchRandom() {}

  /** Runs {@code draw} (e.g. a model's initialisation) with libtorch's generator seeded to {@code seed}. */
  public static <T> T seeded(long seed, Supplier<T> draw) {
    synchronized (LOCK) {
      Engine.getInstance().setRandomSeed((int) seed);
      return draw.get();
    }
  }

  /** Seeds libtorch's generator for draws made outside {@link #draw} (torch.manual_seed), under the lock. */
  public static void manualSeed(long seed) {
    seeded(seed, () -> null);
  }

  /** Starts this thread's stream of draws for one training step. */
  public static void beginStep(long stepSeed) {
    STREAM.set(new long[] {stepSeed, 0});
  }

  /** Ends this thread's stream: later draws use libtorch's generator as it stands. */
  public static void endSteps() {
    STREAM.remove();
  }

  /**
   * Runs one random operation (a dropout mask): inside a step, from a seed fixed by the step seed and the draw's
   * index; outside one, from the generator as it stands.
   */
  public static <T> T draw(Supplier<T> op) {
    long[] stream = STREAM.get();
    if (stream == null) {
      return op.get();
    }
    long seed = mix(stream[0] * 0x9E3779B97F4A7C15L + stream[1]++);
    return seeded(seed, op);
  }

  /** SplitMix64's finaliser: nearby inputs give unrelated seeds. */
  static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
