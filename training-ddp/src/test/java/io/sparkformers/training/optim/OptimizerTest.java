package io.sparkformers.training.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.sparkformers.training.internal.Autograd;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * AdamW, SGD and clipping against PyTorch 1.13 (Debian's python3-torch): the expected values were printed
 * by {@code src/test/resources/trainer/ref_optim.py} on the same initial weights and gradients. The optimizers
 * must match them bit for bit.
 */
class OptimizerTest {

  static final float[] W0 = {0.5f, -1.25f, 3.0f, 0.125f, -0.5f, 2.0f};
  static final float[] B0 = {0.25f, -0.75f, 1.5f};

  /** The gradient of step k: exact binary fractions, identical in Python and Java. */
  static float[] grad(int k, int n, int off) {
    float[] g = new float[n];
    for (int i = 0; i < n; i++) {
      g[i] = (((k + 1) * (i + 2 + off)) % 7 - 3) * 0.25f;
    }
    return g;
  }

  /** Runs {@code steps} steps of a loss whose gradient is {@link #grad}, returning W and b flattened. */
  static float[][] run(Function<List<Param>, Optimizer> make, int steps, double lr) {
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      List<Param> params = params(m);
      NDArray w = params.get(0).array();
      NDArray b = params.get(1).array();
      try (Optimizer opt = make.apply(params)) {
        for (int k = 0; k < steps; k++) {
          step(m, opt, w, b, k, lr);
        }
      }
      return new float[][] {w.toFloatArray(), b.toFloatArray()};
    }
  }

  /** fc.weight = W0 (decayed) and fc.bias = B0 (exempt), both recording gradients. */
  static List<Param> params(NDManager m) {
    NDArray w = m.create(W0, new Shape(2, 3));
    NDArray b = m.create(B0);
    w.setRequiresGradient(true);
    b.setRequiresGradient(true);
    return List.of(new Param("fc.weight", w, true), new Param("fc.bias", b, false));
  }

  static void assertClose(double[] expected, float[] actual, double tol) {
    assertEquals(expected.length, actual.length);
    for (int i = 0; i < expected.length; i++) {
      assertEquals(expected[i], actual[i], tol * Math.max(1, Math.abs(expected[i])), "element " + i);
    }
  }

  /** Bit for bit: the updates run torch's own operators (OptimizerKernels), so not even rounding differs. */
  static void assertSameFloats(double[] expected, float[] actual) {
    assertEquals(expected.length, actual.length);
    for (int i = 0; i < expected.length; i++) {
      assertEquals(Float.floatToIntBits((float) expected[i]), Float.floatToIntBits(actual[i]),
          "element " + i + ": expected " + (float) expected[i] + ", got " + actual[i]);
    }
  }

  @Test
  void adamWMatchesTorchWithDecoupledWeightDecayAndBiasCorrection() {
    float[][] r = run(p -> new AdamW(p, 0.9, 0.999, 1e-8, 0.1), 5, 1e-2);
    assertSameFloats(new double[] {0.4988376200199127, -1.261605978012085, 2.973085880279541, 0.10048289597034454,
        -0.5379363894462585, 2.0399200916290283}, r[0]);
    // The bias is exempt from weight decay, as in transformers' parameter groups.
    assertSameFloats(new double[] {0.2999999523162842, -0.7219435572624207, 1.5013577938079834}, r[1]);
  }

  @Test
  void sgdWithMomentumDampeningAndWeightDecayMatchesTorch() {
    float[][] r = run(p -> new Sgd(p, 0.9, 0.1, 0.01, false), 4, 0.1);
    assertSameFloats(new double[] {0.437446653842926, -1.4243693351745605, 2.947636604309082, -0.02964388020336628,
        -0.9176037311553955, 2.6187472343444824}, r[0]);
    assertSameFloats(new double[] {0.8865999579429626, -0.5395749807357788, 1.441749930381775}, r[1]);
  }

  @Test
  void sgdMomentumResumedFromItsStateEqualsTheUninterruptedRun() {
    float[][] whole = run(p -> new Sgd(p, 0.9, 0.1, 0.01, false), 4, 0.1);
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      List<Param> params = params(m);
      NDArray w = params.get(0).array();
      NDArray b = params.get(1).array();
      java.util.Map<String, NDArray> saved = new java.util.LinkedHashMap<>();
      try (Optimizer first = new Sgd(params, 0.9, 0.1, 0.01, false)) {
        for (int k = 0; k < 2; k++) {
          step(m, first, w, b, k, 0.1);
        }
        first.state().forEach((name, t) -> {
          NDArray copy = t.duplicate();
          copy.attach(m); // outlives the optimizer, as a checkpoint does
          saved.put(name, copy);
        });
      }
      assertEquals(List.of("fc.weight.momentum_buffer", "fc.bias.momentum_buffer"), List.copyOf(saved.keySet()));
      try (Optimizer second = new Sgd(params, 0.9, 0.1, 0.01, false)) {
        second.loadState(saved);
        for (int k = 2; k < 4; k++) {
          step(m, second, w, b, k, 0.1);
        }
      }
      assertArrayEquals(whole[0], w.toFloatArray());
      assertArrayEquals(whole[1], b.toFloatArray());
    }
  }

  @Test
  void sgdStateWithSomeMomentumBuffersMissingIsRefusedByName() {
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      List<Param> params = params(m);
      try (Optimizer opt = new Sgd(params, 0.9, 0, 0, false)) {
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
            () -> opt.loadState(java.util.Map.of("fc.bias.momentum_buffer", m.zeros(new Shape(3)))));
        assertEquals("optimizer state lacks 'fc.weight.momentum_buffer'", e.getMessage());
      }
    }
  }

  /** One step of the test loss at step {@code k}: gradients of {@link #grad}, update, zero. */
  static void step(NDManager m, Optimizer opt, NDArray w, NDArray b, int k, double lr) {
    Autograd.enable();
    NDArray loss = w.mul(m.create(grad(k, 6, 0), new Shape(2, 3))).sum()
        .add(b.mul(m.create(grad(k, 3, 5))).sum());
    Autograd.backward(loss);
    opt.step(lr);
    Autograd.zeroGrad(w);
    Autograd.zeroGrad(b);
  }

  @Test
  void sgdNesterovMatchesTorch() {
    float[][] r = run(p -> new Sgd(p.stream().map(q -> new Param(q.name(), q.array(), true)).toList(),
        0.9, 0, 0, true), 4, 0.1);
    assertSameFloats(new double[] {0.4081525206565857, -1.535175085067749, 2.981572389602661,
        -0.08675500005483627, -1.0468324422836304, 2.9108073711395264}, r[0]);
    assertSameFloats(new double[] {1.160807490348816, -0.5067699551582336, 1.408152461051941}, r[1]);
  }

  @Test
  void clipGradNormScalesByTheTotalL2NormAsTorch() {
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      NDArray w = m.create(W0, new Shape(2, 3));
      NDArray b = m.create(B0);
      w.setRequiresGradient(true);
      b.setRequiresGradient(true);
      Autograd.enable();
      Autograd.backward(w.mul(m.create(grad(2, 6, 0), new Shape(2, 3))).sum()
          .add(b.mul(m.create(grad(2, 3, 5))).sum()));
      List<Param> params = List.of(new Param("w", w, true), new Param("b", b, false));
      float norm = GradClipping.clipGradNorm(params, 1.0);
      assertEquals(1.695582389831543, norm, 1e-7);
      assertClose(new double[] {0.4423256516456604, -0.14744187891483307, 0.29488375782966614,
          -0.29488375782966614, 0.14744187891483307, -0.4423256516456604}, w.getGradient().toFloatArray(), 1e-7);
      assertClose(new double[] {-0.4423256516456604, 0.0, 0.4423256516456604}, b.getGradient().toFloatArray(),
          1e-7);
      // Below the limit nothing changes (the coefficient is clamped to 1).
      float[] before = w.getGradient().toFloatArray();
      GradClipping.clipGradNorm(params, 10.0);
      assertArrayEquals(before, w.getGradient().toFloatArray());
    }
  }

  @Test
  void gradScalerSkipsOverflowingStepsAndBacksOffThenGrows() {
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      NDArray w = m.create(new float[] {1f, 2f});
      w.setRequiresGradient(true);
      List<Param> params = List.of(new Param("w", w, true));
      GradScaler scaler = new GradScaler(1024f, 2f, 0.5f, 2);
      // A finite scaled gradient: unscaled exactly, no overflow.
      Autograd.enable();
      Autograd.backward(w.mul(m.create(new float[] {3f, -4f})).sum().mul(scaler.scale()));
      assertFalse(scaler.unscaleAndCheck(params));
      assertArrayEquals(new float[] {3f, -4f}, w.getGradient().toFloatArray());
      scaler.update(false);
      assertEquals(1024f, scaler.scale());
      scaler.update(false);
      assertEquals(2048f, scaler.scale(), "grows after growth_interval good steps");
      // An infinite gradient: found, and the scale halves.
      Autograd.zeroGrad(w);
      Autograd.backward(w.mul(m.create(new float[] {Float.POSITIVE_INFINITY, 1f})).sum());
      assertTrue(scaler.unscaleAndCheck(params));
      scaler.update(true);
      assertEquals(1024f, scaler.scale());
      assertEquals(0, scaler.growthTracker());
    }
  }
}
