package io.sparkformers.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.ndarray.NDManager;
import io.sparkformers.training.models.ModelOutput;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The evaluation loop on one rank, with a prediction step whose outputs are known. */
class PredictorTest {
  // 5 rows of 2 features: row i is (i, 10 + i); labels are i % 2.
  private static final ArrayData DATA = ArrayData.builder()
      .floats("features", new float[] {0, 10, 1, 11, 2, 12, 3, 13, 4, 14}, 2)
      .longs("labels", new long[] {0, 1, 0, 1, 0}, 1).build();

  /** Logits are the features; the loss is the batch's mean feature. */
  private static ModelOutput step(Map<String, ai.djl.ndarray.NDArray> inputs) {
    return new ModelOutput(inputs.get("features"), inputs.get("features").mean());
  }

  @Test
  void rowsComeBackInOrderAndTheLossIsWeightedByRows() {
    try (NDManager m = NDManager.newBaseManager()) {
      ComputeMetrics count = p -> Map.of("rows", (double) p.predictions().length);
      Trainer.Prediction p = new Predictor(m, 2, null, null, count, PredictorTest::step).predict(DATA, "test");
      for (int i = 0; i < 5; i++) {
        assertArrayEquals(new float[] {i, 10 + i}, p.predictions()[i]);
        assertArrayEquals(new long[] {i % 2}, p.labels()[i]);
      }
      // Batches of 2, 2 and 1 rows: the mean over rows, not over batches (7.0 against 7.5).
      assertEquals(7.0, p.metrics().get("test_loss"), 1e-6);
      assertEquals(5.0, p.metrics().get("test_rows"));
    }
  }

  @Test
  void preprocessLogitsKeepsWhatItReturnsAndMustKeepOneRowPerRow() {
    try (NDManager m = NDManager.newBaseManager()) {
      PreprocessLogits firstFeature = (logits, labels) -> logits.get(":, 0");
      Trainer.Prediction p = new Predictor(m, 2, null, firstFeature, null, PredictorTest::step).predict(DATA, "eval");
      assertArrayEquals(new float[] {4}, p.predictions()[4]);
      PreprocessLogits wrong = (logits, labels) -> logits.sum();
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> new Predictor(m, 2, null, wrong, null, PredictorTest::step).predict(DATA, "eval"));
      assertEquals("preprocess_logits_for_metrics must return one row per batch row: got shape () for a batch of"
          + " 2 rows", e.getMessage());
    }
  }
}
