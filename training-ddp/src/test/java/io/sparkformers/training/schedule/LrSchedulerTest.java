package io.sparkformers.training.schedule;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** transformers' get_scheduler lambdas, worked by hand from their definitions. */
class LrSchedulerTest {

  static double[] lrs(LrScheduler s, int n) {
    double[] out = new double[n];
    for (int i = 0; i < n; i++) {
      out[i] = s.lr();
      s.step();
    }
    return out;
  }

  @Test
  void linearWarmsUpThenDecaysToZero() {
    double[] lr = lrs(new LrScheduler("linear", 1e-3, 2, 10), 11);
    assertEquals(0.0, lr[0]);
    assertEquals(5e-4, lr[1], 1e-18);
    assertEquals(1e-3, lr[2], 1e-18);
    assertEquals(1e-3 * 7 / 8, lr[3], 1e-18);
    assertEquals(1e-3 * 1 / 8, lr[9], 1e-18);
    assertEquals(0.0, lr[10]);
  }

  @Test
  void linearWithoutWarmupStartsAtTheBaseRate() {
    double[] lr = lrs(new LrScheduler("linear", 0.1, 0, 4), 4);
    assertEquals(0.1, lr[0]);
    assertEquals(0.1 * 3 / 4, lr[1], 1e-17);
    assertEquals(0.1 * 1 / 4, lr[3], 1e-17);
  }

  @Test
  void cosineFollowsHalfACosineAfterWarmup() {
    LrScheduler s = new LrScheduler("cosine", 1e-3, 2, 10);
    assertEquals(5e-4, s.baseLr() * s.lambda(1), 1e-18);
    assertEquals(1e-3, s.baseLr() * s.lambda(2), 1e-18);
    assertEquals(5e-4, s.baseLr() * s.lambda(6), 1e-15);
    assertEquals(1e-3 * 0.5 * (1 + Math.cos(Math.PI * 0.25)), s.baseLr() * s.lambda(4), 1e-15);
    assertEquals(0.0, s.lambda(10), 1e-16);
  }

  @Test
  void constantAndConstantWithWarmup() {
    assertEquals(1.0, new LrScheduler("constant", 1, 5, 10).lambda(0));
    LrScheduler w = new LrScheduler("constant_with_warmup", 2e-5, 4, 100);
    assertEquals(0.0, w.lambda(0));
    assertEquals(0.25, w.lambda(1));
    assertEquals(1.0, w.lambda(4));
    assertEquals(1.0, w.lambda(99));
  }

  @Test
  void unknownTypeIsRefusedNamingTheValidOnes() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new LrScheduler("cosine_restarts", 1, 0, 10));
    assertTrue(e.getMessage().contains("cosine_restarts is not a valid SchedulerType"), e.getMessage());
  }
}
