package io.sparkformers.training.models.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.sparkformers.training.internal.Autograd;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;

/**
 * The numbers in Ops' scalar arithmetic must outlive the forward call: autograd keeps them for backward. DJL's
 * own {@code div(Number)} put them in a Java direct buffer that the GC frees, and the GPT attention's division
 * by √head_dim then read freed memory in backward (NaN gradients in random layers under Spark).
 */
class OpsScalarLifetimeTest {

  @Test
  void savedScalarsSurviveGarbageCollectionUntilBackward() throws Exception {
    check((x, s) -> Ops.div(x, s), 4.0, new float[] {0.25f, 0.25f, 0.25f});
    check((x, s) -> Ops.mul(x, s), 4.0, new float[] {4f, 4f, 4f});
    // d/dx x^3 = 3x² at 1, 2, -3
    check((x, s) -> Ops.pow(x, s), 3.0, new float[] {3f, 12f, 27f});
    // max(x, 1.5): gradient 1 where x is larger, 0 where the number is
    check((x, s) -> Ops.maximum(x, s), 1.5, new float[] {0f, 1f, 0f});
  }

  private static void check(BiFunction<NDArray, Double, NDArray> op, double number, float[] expectedGrad)
      throws InterruptedException {
    try (NDManager m = NDManager.newBaseManager()) {
      boolean before = Autograd.isEnabled();
      try {
        run(m, op, number, expectedGrad);
      } finally {
        Autograd.setEnabled(before);
      }
    }
  }

  private static void run(NDManager m, BiFunction<NDArray, Double, NDArray> op, double number,
      float[] expectedGrad) throws InterruptedException {
    {
      NDArray x = m.create(new float[] {1f, 2f, -3f});
      x.setRequiresGradient(true);
      Autograd.enable();
      NDArray y = op.apply(x, number);
      List<ByteBuffer> reuse = overwriteFreedJavaMemory();
      Autograd.backward(y.sum());
      assertArrayEquals(expectedGrad, x.getGradient().toFloatArray(), 0f);
      reuse.clear();
    }
  }

  /**
   * Lets the GC free unreachable direct buffers, then takes small blocks of native memory (the allocator hands
   * freed blocks of a size back first) and fills them with NaN, so a tensor over freed Java memory reads NaN.
   */
  private static List<ByteBuffer> overwriteFreedJavaMemory() throws InterruptedException {
    List<ByteBuffer> taken = new ArrayList<>();
    for (int round = 0; round < 5; round++) {
      System.gc();
      Thread.sleep(20); // the reference handler frees the buffers' memory after the collection
      for (int i = 0; i < 200; i++) {
        ByteBuffer b = ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder());
        b.putFloat(0, Float.NaN);
        taken.add(b);
      }
    }
    return taken;
  }
}
