package io.sparkformers.it.training;

import io.sparkformers.training.ArrayData;
import java.util.SplittableRandom;

/** Test support: a fixed synthetic classification set that a small MLP learns (16 features, 3 classes). */
public final class SeparableData {
  /** The config.json of the MLP these tests train on it. */
  public static final String MLP_CONFIG = "{\"model_type\": \"mlp\", \"input_size\": 16, \"hidden_sizes\": [32],"
      + " \"num_labels\": 3}";

  private SeparableData() {}

  /** {@code rows} rows: each class shifts every third feature by 1.5 (seed 7, so every rank builds the same). */
  public static ArrayData of(int rows) {
    SplittableRandom rng = new SplittableRandom(7);
    float[] x = new float[rows * 16];
    long[] y = new long[rows];
    for (int i = 0; i < rows; i++) {
      y[i] = rng.nextInt(3);
      for (int j = 0; j < 16; j++) {
        x[i * 16 + j] = (float) (rng.nextGaussian() + (j % 3 == y[i] ? 1.5 : 0));
      }
    }
    return ArrayData.builder().floats("features", x, 16).longs("labels", y, 1).build();
  }
}
