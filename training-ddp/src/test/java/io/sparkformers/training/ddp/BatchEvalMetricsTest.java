package io.sparkformers.training.ddp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.types.DataType;
import io.sparkformers.accelerate.BarrierLauncher;
import io.sparkformers.accelerate.ProcessGroup;
import io.sparkformers.training.ArrayData;
import io.sparkformers.training.BatchMetrics;
import io.sparkformers.training.ComputeMetrics;
import io.sparkformers.training.EvalPrediction;
import io.sparkformers.training.MlpReferenceAccess;
import io.sparkformers.training.PreprocessLogits;
import io.sparkformers.training.Trainer;
import io.sparkformers.training.TrainingArguments;
import io.sparkformers.training.TrainingData;
import io.sparkformers.training.models.AutoConfig;
import io.sparkformers.training.models.AutoModel;
import io.sparkformers.training.models.PreTrainedModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * batch_eval_metrics: compute_metrics accumulated step by step gives, on one rank and on two, bit for bit the
 * metrics of one call over every kept row, for a classifier and a causal LM; evaluation then hands over at
 * most one step's rows at a time and keeps none.
 */
class BatchEvalMetricsTest {
  static JavaSparkContext sc;

  @TempDir Path tmp;

  @BeforeAll
  static void startSpark() {
    sc = DataParallelTrainerTest.localTwoRanks("batch-eval-metrics-test");
  }

  @AfterAll
  static void stopSpark() {
    sc.stop();
  }

  /**
   * Accuracy of the argmax, and a float sum over every kept number in row order (NaN skipped), whose value
   * depends on the order of the additions (float rounds at every step); records the rows of each batch given.
   */
  static final class Sums implements BatchMetrics {
    final List<Integer> batchRows = new ArrayList<>();
    long rows;
    long correct;
    long count;
    float sum;

    @Override
    public void update(EvalPrediction batch) {
      batchRows.add(batch.predictions().length);
      long[] predicted = batch.argmax();
      long[] labels = batch.labelIds();
      for (int i = 0; i < predicted.length; i++) {
        correct += predicted[i] == labels[i] ? 1 : 0;
        for (float v : batch.predictions()[i]) {
          if (!Float.isNaN(v)) {
            sum += v;
            count++;
          }
        }
      }
      rows += predicted.length;
    }

    @Override
    public Map<String, Double> compute() {
      Map<String, Double> out = new LinkedHashMap<>();
      out.put("accuracy", (double) correct / rows);
      out.put("sum", (double) sum);
      out.put("perplexity", Math.exp(-(double) sum / count));
      return out;
    }
  }

  /** The same metrics in one call over every row, as compute_metrics without batch_eval_metrics. */
  static final ComputeMetrics ONE_SHOT = p -> {
    Sums s = new Sums();
    s.update(p);
    return s.compute();
  };

  /** Each position's log-likelihood of the next label, NaN where it is -100 (what the train job keeps). */
  static final PreprocessLogits NEXT_TOKEN = (logits, labels) -> {
    NDArray logProbs = logits.get(":, :-1, :").toType(DataType.FLOAT64, false).logSoftmax(-1);
    NDArray next = labels.get(":, 1:").toType(DataType.INT64, false);
    NDArray ignored = next.eq(-100);
    NDArray safe = next.mul(ignored.logicalNot().toType(DataType.INT64, false));
    NDArray picked = logProbs.gather(safe.expandDims(2), 2).squeeze(2);
    return NDArrays.where(ignored, picked.getManager().full(picked.getShape(), Float.NaN, DataType.FLOAT64), picked);
  };

  static final String GPT = "{\"model_type\": \"gpt2\", \"vocab_size\": 50, \"n_positions\": 16, \"n_embd\": 16,"
      + " \"n_layer\": 2, \"n_head\": 2}";

  /** 22 rows of 8 tokens (a short last batch of 4), labels the inputs with the first two of every third -100. */
  static ArrayData lmData() {
    long[] ids = new long[22 * 8];
    long[] labels = new long[ids.length];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = (i * 7 + i / 8) % 50;
      labels[i] = (i / 8) % 3 == 0 && i % 8 < 2 ? -100 : ids[i];
    }
    return ArrayData.builder().longs("input_ids", ids, 8).longs("labels", labels, 8).build();
  }

  /** A Trainer that fails if evaluation goes through predict(), the path that keeps every row. */
  static final class NoRowsKept extends Trainer {
    NoRowsKept(Trainer.Builder b) {
      super(b);
    }

    @Override
    public Prediction predict(TrainingData data, String prefix) {
      throw new AssertionError("evaluate() under batch_eval_metrics went through predict()");
    }
  }

  /**
   * evaluate() of a model: one-shot compute_metrics, or batch_eval_metrics with a {@link Sums} per pass
   * (whose batch sizes come back under "batch_rows"). {@code shards}: each rank holds its batches only.
   */
  static Map<String, Object> evaluate(String model, String out, TrainingData all, int bs, ProcessGroup group,
      boolean batched, boolean shards) throws Exception {
    TrainingArguments args = TrainingArguments.builder(out).perDeviceEvalBatchSize(bs).batchEvalMetrics(batched)
        .disableTqdm(true).build();
    boolean lm = model.equals("gpt2");
    Supplier<PreTrainedModel> init = lm ? () -> AutoModel.fromConfig(AutoConfig.fromJson(GPT, "test"))
        : () -> {
          try {
            return AutoModel.fromPretrained(Path.of(model));
          } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
        };
    TrainingData data = all;
    if (shards && group != null) {
      data = RankShardsTrainerTest.rows(all, RankShardsTrainerTest.batchesOf(all.numRows(), bs, group.rank(),
          group.worldSize()));
    }
    List<Sums> passes = new ArrayList<>();
    Trainer.Builder b = Trainer.builder(init, args).evalData(data).rankShards(shards).processGroup(group)
        .preprocessLogitsForMetrics(lm ? NEXT_TOKEN : null);
    if (batched) {
      b.batchMetrics(() -> {
        Sums s = new Sums();
        passes.add(s);
        return s;
      });
    } else {
      b.computeMetrics(ONE_SHOT);
    }
    try (Trainer trainer = batched ? new NoRowsKept(b) : b.build()) {
      Map<String, Object> r = new HashMap<>();
      Map<String, Double> m = trainer.evaluate();
      for (String k : List.of("eval_loss", "eval_accuracy", "eval_sum", "eval_perplexity")) {
        r.put(k, m.get(k));
      }
      r.put("eval_samples", (double) all.numRows());
      if (batched) {
        assertEquals(1, passes.size(), "one accumulator per evaluation");
        r.put("batch_rows", passes.get(0).batchRows);
      }
      return r;
    }
  }

  static void assertSameMetrics(Map<String, Object> expected, Map<String, Object> actual, String what) {
    for (String k : List.of("eval_loss", "eval_accuracy", "eval_sum", "eval_perplexity")) {
      assertTrue(expected.get(k) instanceof Double, k + " missing: " + expected);
      // Bit for bit: the same additions in the same order.
      assertEquals(Double.doubleToRawLongBits((Double) expected.get(k)),
          Double.doubleToRawLongBits((Double) actual.get(k)), what + ": " + k + " " + expected.get(k) + " against "
              + actual.get(k));
    }
  }

  @SuppressWarnings("unchecked")
  static void assertStepsOfAtMost(Map<String, Object> r, int rowsPerStep, long n, int steps) {
    List<Integer> rows = (List<Integer>) r.get("batch_rows");
    assertEquals(steps, rows.size(), "one update per evaluation step: " + rows);
    assertEquals(n, rows.stream().mapToLong(Integer::longValue).sum(), "every row once: " + rows);
    assertTrue(rows.stream().allMatch(x -> x > 0 && x <= rowsPerStep), "at most " + rowsPerStep + " rows: " + rows);
  }

  @Test
  void oneRankGivesTheMetricsOfEveryKeptRowBitForBit() throws Exception {
    String mlp = MlpReferenceAccess.modelFolder(tmp.resolve("init")).toString();
    ArrayData rows = MlpReferenceAccess.data();
    long n = rows.numRows();
    int bs = 7;
    Map<String, Object> oneShot = evaluate(mlp, tmp.resolve("a").toString(), rows, bs, null, false, false);
    Map<String, Object> batched = evaluate(mlp, tmp.resolve("b").toString(), rows, bs, null, true, false);
    assertSameMetrics(oneShot, batched, "classifier");
    assertStepsOfAtMost(batched, bs, n, (int) ((n + bs - 1) / bs));
    assertTrue((Double) oneShot.get("eval_accuracy") > 0 && (Double) oneShot.get("eval_sum") != 0, "" + oneShot);

    ArrayData lm = lmData();
    Map<String, Object> lmOneShot = evaluate("gpt2", tmp.resolve("c").toString(), lm, 4, null, false, false);
    Map<String, Object> lmBatched = evaluate("gpt2", tmp.resolve("d").toString(), lm, 4, null, true, false);
    assertSameMetrics(lmOneShot, lmBatched, "causal LM");
    assertStepsOfAtMost(lmBatched, 4, 22, 6);
    // 22 rows × 7 predicted tokens, less the 8 rows whose second label is -100; an untrained model is near
    // uniform over 50 tokens.
    double ppl = (Double) lmOneShot.get("eval_perplexity");
    assertTrue(ppl > 30 && ppl < 80, "perplexity " + ppl);
  }

  @Test
  void twoRanksGiveWhatOneRankGivesBitForBit() throws Exception {
    String mlp = MlpReferenceAccess.modelFolder(tmp.resolve("init")).toString();
    String out = tmp.resolve("two").toString();
    long n = MlpReferenceAccess.data().numRows();
    int bs = 7;
    Map<String, Object> one = evaluate(mlp, tmp.resolve("one").toString(), MlpReferenceAccess.data(), bs, null,
        false, false);
    Map<String, Object> oneLm = evaluate("gpt2", tmp.resolve("one-lm").toString(), lmData(), 4, null, false,
        false);
    Map<String, Object> two = BarrierLauncher.run(sc, 2, ctx -> {
      Map<String, Object> r = new HashMap<>();
      ProcessGroup g = ctx.processGroup();
      r.put("shared", evaluate(mlp, out, MlpReferenceAccess.data(), bs, g, true, false));
      r.put("shards", evaluate(mlp, out, MlpReferenceAccess.data(), bs, g, true, true));
      r.put("lm", evaluate("gpt2", out, lmData(), 4, g, true, true));
      r.put("lm_one_shot", evaluate("gpt2", out, lmData(), 4, g, false, true));
      // Every rank computes the same metrics: rank 0 compares them with rank 1's.
      double[] mine = {(Double) ((Map<?, ?>) r.get("lm")).get("eval_perplexity"),
          (Double) ((Map<?, ?>) r.get("shards")).get("eval_sum")};
      double[] both = io.sparkformers.accelerate.Accelerator.of(g, ai.djl.Device.cpu()).gather(mine);
      r.put("ranks_agree", both[0] == both[2] && both[1] == both[3]);
      return r;
    });
    int steps = (int) (((n + bs - 1) / bs + 1) / 2);
    for (String k : List.of("shared", "shards")) {
      @SuppressWarnings("unchecked")
      Map<String, Object> r = (Map<String, Object>) two.get(k);
      assertSameMetrics(one, r, "classifier, " + k);
      // A step's rows are both ranks' batches, gathered.
      assertStepsOfAtMost(r, 2 * bs, n, steps);
    }
    @SuppressWarnings("unchecked")
    Map<String, Object> lm = (Map<String, Object>) two.get("lm");
    @SuppressWarnings("unchecked")
    Map<String, Object> lmOneShot = (Map<String, Object>) two.get("lm_one_shot");
    assertSameMetrics(oneLm, lm, "causal LM");
    assertSameMetrics(oneLm, lmOneShot, "causal LM without batch_eval_metrics");
    assertStepsOfAtMost(lm, 8, 22, 3);
    assertEquals(true, two.get("ranks_agree"));
  }

  @Test
  void withoutTheFlagBatchMetricsIsFedEveryStepAndRowsAreKept() throws Exception {
    String mlp = MlpReferenceAccess.modelFolder(tmp.resolve("init")).toString();
    TrainingArguments args = TrainingArguments.builder(tmp.resolve("o").toString()).perDeviceEvalBatchSize(10)
        .disableTqdm(true).build();
    ArrayData rows = MlpReferenceAccess.data();
    List<Sums> passes = new ArrayList<>();
    try (PreTrainedModel model = AutoModel.fromPretrained(Path.of(mlp));
        Trainer trainer = Trainer.builder(model, args).evalData(rows).batchMetrics(() -> {
          Sums s = new Sums();
          passes.add(s);
          return s;
        }).build()) {
      Trainer.Prediction p = trainer.predict(rows, "test");
      assertEquals(rows.numRows(), p.predictions().length);
      assertEquals(1, passes.size());
      assertEquals((rows.numRows() + 9) / 10, passes.get(0).batchRows.size());
      Map<String, Double> expected = ONE_SHOT.compute(new EvalPrediction(p.predictions(), p.labels()));
      assertEquals(expected.get("sum"), p.metrics().get("test_sum"));
      assertEquals(expected.get("accuracy"), p.metrics().get("test_accuracy"));
      Map<String, Double> eval = trainer.evaluate();
      assertEquals(2, passes.size(), "a fresh accumulator for each pass");
      assertEquals(expected.get("sum"), eval.get("eval_sum"));
      assertEquals((double) rows.numRows(), passes.get(1).rows);
    }
  }

  @Test
  void oneShotComputeMetricsUnderBatchEvalMetricsIsRefused() throws Exception {
    String mlp = MlpReferenceAccess.modelFolder(tmp.resolve("init")).toString();
    TrainingArguments args = TrainingArguments.builder(tmp.resolve("o").toString()).batchEvalMetrics(true)
        .disableTqdm(true).build();
    try (PreTrainedModel model = AutoModel.fromPretrained(Path.of(mlp))) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Trainer.builder(model, args)
          .evalData(MlpReferenceAccess.data()).computeMetrics(ONE_SHOT).build());
      assertEquals("batch_eval_metrics=true calls compute_metrics batch by batch: give it as"
          + " Trainer.builder().batchMetrics(...), which accumulates, instead of computeMetrics(...)", e.getMessage());
      TrainingArguments plain = args.toBuilder().batchEvalMetrics(false).build();
      e = assertThrows(IllegalArgumentException.class, () -> Trainer.builder(model, plain)
          .evalData(MlpReferenceAccess.data()).computeMetrics(ONE_SHOT).batchMetrics(Sums::new).build());
      assertTrue(e.getMessage().startsWith("give compute_metrics either as computeMetrics"), e.getMessage());
      // Without compute_metrics, batch_eval_metrics evaluates the loss alone.
      Trainer t = Trainer.builder(model, args).evalData(MlpReferenceAccess.data()).build();
      Map<String, Double> m = t.evaluate();
      assertTrue(m.get("eval_loss") > 0);
      assertFalse(m.containsKey("eval_accuracy"));
    }
  }
}
