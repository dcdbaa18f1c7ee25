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

  /** {@code n} rows of {@code width} features, row r all r, label r % 3; made per batch, nothing stored. */
  static TrainingData wide(long n, int width) {
    return new TrainingData() {
      @Override
      public long numRows() {
        return n;
      }

      @Override
      public java.util.Set<String> columns() {
        return java.util.Set.of("features", "labels");
      }

      @Override
      public Map<String, ai.djl.ndarray.NDArray> batch(NDManager m, long[] rows) {
        ai.djl.ndarray.NDArray ids = m.create(rows);
        return Map.of("features", ids.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).reshape(rows.length, 1)
            .repeat(1, width), "labels", ids.mod(3).reshape(rows.length, 1));
      }
    };
  }

  @Test
  void batchEvalMetricsEvaluatesRowsWhosePredictionsWouldNotFitInTheHeap() {
    int width = 4096;
    int bs = 2048;
    // More float predictions than the whole heap holds: predict() could not keep them.
    long n = Runtime.getRuntime().maxMemory() / (width * 4L) + bs + 5;
    long[] seen = new long[4]; // rows, largest batch, sum of first values, rows of the wrong width
    BatchMetrics sums = new BatchMetrics() {
      @Override
      public void update(EvalPrediction batch) {
        seen[0] += batch.predictions().length;
        seen[1] = Math.max(seen[1], batch.predictions().length);
        for (float[] row : batch.predictions()) {
          seen[2] += (long) row[0];
          seen[3] += row.length == width ? 0 : 1;
        }
      }

      @Override
      public Map<String, Double> compute() {
        return Map.of("rows", (double) seen[0]);
      }
    };
    try (NDManager m = NDManager.newBaseManager()) {
      Predictor.Evaluation e = new Predictor(m, bs, null, null, null, () -> sums,
          inputs -> new ModelOutput(inputs.get("features"), null), false).evaluate(wide(n, width), "eval");
      assertEquals(n, e.rows());
      assertEquals(Map.of("eval_rows", (double) n), e.metrics());
      assertEquals(bs, seen[1], "one batch at a time");
      assertEquals(n * (n - 1) / 2, seen[2], "every row once");
      assertEquals(0, seen[3]);
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
