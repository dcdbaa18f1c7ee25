package io.sparkformers.training.models.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** weight · x / √(mean(x²) + eps), against values worked out by hand. */
class RMSNormTest {

  @Test
  void normalisesByTheRootMeanSquare() {
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      RMSNorm norm = new RMSNorm(4, 0.0);
      norm.createParameters(m, Map.of("weight", m.create(new float[] {1, 2, 0.5f, -1})));
      // Row 1: mean(1, 4, 4, 16) = 6.25, √ = 2.5. Row 2: mean(4, 4, 4, 4) = 4, √ = 2.
      NDArray x = m.create(new float[] {1, 2, 2, 4, 2, -2, 2, -2}, new Shape(2, 4));
      assertArrayEquals(new float[] {0.4f, 1.6f, 0.4f, -1.6f, 1, -2, 0.5f, 1}, norm.forward(x).toFloatArray(),
          1e-7f);
    }
  }

  @Test
  void epsIsAddedUnderTheRootAndHalfInputsAreNormalisedInFloat32() {
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      RMSNorm norm = new RMSNorm(4, 0.25);
      norm.createParameters(m, Map.of());
      // mean(1, 4, 4, 16) + 0.25 = 6.5
      double r = Math.sqrt(6.5);
      float[] expected = {(float) (1 / r), (float) (2 / r), (float) (2 / r), (float) (4 / r)};
      NDArray x = m.create(new float[] {1, 2, 2, 4}, new Shape(1, 4));
      assertArrayEquals(expected, norm.forward(x).toFloatArray(), 1e-7f);
      NDArray half = x.toType(DataType.FLOAT16, false);
      NDArray out = norm.forward(half);
      // The float32 weight times the normalised half input: float32, with the half's rounding (≈ 1e-3).
      assertEquals(DataType.FLOAT32, out.getDataType());
      assertArrayEquals(expected, out.toFloatArray(), 1e-3f);
    }
  }

  /** The output belongs to the input's manager, never to the weight's (the model's), where it would never be freed. */
  @Test
  void theOutputBelongsToTheInputsManager() {
    try (NDManager model = NDManager.newBaseManager("PyTorch"); NDManager step = model.newSubManager()) {
      RMSNorm norm = new RMSNorm(4, 1e-6);
      norm.createParameters(model, Map.of());
      NDArray x = step.create(new float[] {1, 2, 2, 4}, new Shape(1, 4));
      org.junit.jupiter.api.Assertions.assertSame(step, norm.forward(x).getManager());
    }
  }
}
