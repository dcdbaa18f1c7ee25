package io.sparkformers.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import io.sparkformers.training.models.AutoConfig;
import io.sparkformers.training.models.AutoModel;
import io.sparkformers.training.models.PreTrainedModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The loop's control flow on a small MLP: evaluation, best model, early stopping, rotation, bad input. */
class TrainerBehaviourTest {

  @TempDir Path tmp;

  static PreTrainedModel mlp() {
    Engine.getInstance().setRandomSeed(3);
    return AutoModel.fromConfig(AutoConfig.fromJson("{\"model_type\": \"mlp\", \"input_size\": 4,"
        + " \"hidden_sizes\": [8], \"num_labels\": 2}", "test"));
  }

  /** 64 rows; the class is whether the first feature is positive. */
  static ArrayData data(long seed, boolean nanRow) {
    SplittableRandom rng = new SplittableRandom(seed);
    float[] x = new float[64 * 4];
    long[] y = new long[64];
    for (int i = 0; i < 64; i++) {
      for (int j = 0; j < 4; j++) {
        x[i * 4 + j] = (float) rng.nextGaussian();
      }
      y[i] = x[i * 4] > 0 ? 1 : 0;
    }
    if (nanRow) {
      x[0] = Float.NaN;
    }
    return ArrayData.builder().floats("features", x, 4).longs("labels", y, 1).build();
  }

  static ComputeMetrics accuracy() {
    return p -> {
      long[] pred = p.argmax();
      long[] ref = p.labelIds();
      int ok = 0;
      for (int i = 0; i < pred.length; i++) {
        ok += pred[i] == ref[i] ? 1 : 0;
      }
      return Map.of("accuracy", (double) ok / pred.length);
    };
  }

  @Test
  void evaluatesEachEpochKeepsTheBestAndRotatesCheckpoints() throws Exception {
    List<Map<String, Double>> evaluations = new ArrayList<>();
    try (PreTrainedModel model = mlp()) {
      TrainingArguments args = TrainingArguments.builder(tmp.toString()).learningRate(0.05)
          .perDeviceTrainBatchSize(16).numTrainEpochs(3).evalStrategy("epoch").saveStrategy("epoch")
          .saveTotalLimit(1).loadBestModelAtEnd(true).metricForBestModel("accuracy").loggingSteps(2)
          .disableTqdm(true).build();
      Trainer t = Trainer.builder(model, args).trainData(data(1, false)).evalData(data(2, false))
          .computeMetrics(accuracy())
          .callback(new TrainerCallback() {
            @Override
            public void onEvaluate(TrainingArguments a, TrainerState s, TrainerControl c, Map<String, Double> m) {
              evaluations.add(m);
            }
          })
          .build();
      Map<String, Double> result = t.train();
      assertEquals(12.0, result.get("global_step"), "64 rows / 16 = 4 steps per epoch, 3 epochs");
      assertEquals(3, evaluations.size());
      for (Map<String, Double> m : evaluations) {
        assertNotNull(m.get("eval_loss"));
        assertNotNull(m.get("eval_accuracy"));
      }
      double best = evaluations.stream().mapToDouble(m -> m.get("eval_accuracy")).max().orElseThrow();
      assertEquals(best, t.state().bestMetric());
      // save_total_limit 1 keeps the best and, when it differs, the newest.
      List<Long> kept = new io.sparkformers.training.checkpoint.CheckpointStore(tmp.toString(), null).steps();
      assertTrue(kept.contains(t.state().bestGlobalStep()), kept.toString());
      assertTrue(kept.size() <= 2 && kept.contains(12L), kept.toString());
      // The model now holds the best checkpoint's weights: evaluating gives the best accuracy again.
      assertEquals(best, t.evaluate().get("eval_accuracy"));
      assertTrue(Files.readString(tmp.resolve("log_history.jsonl")).contains("\"eval_accuracy\""));
    }
  }

  @Test
  void earlyStoppingEndsTrainingWhenTheMetricStopsImproving() {
    try (PreTrainedModel model = mlp()) {
      // A learning rate of 0: the loss never improves, so training stops after 1 + patience evaluations.
      TrainingArguments args = TrainingArguments.builder(tmp.toString()).learningRate(0)
          .perDeviceTrainBatchSize(16).numTrainEpochs(10).evalStrategy("steps").evalSteps(2.0).saveSteps(2)
          .loadBestModelAtEnd(true).disableTqdm(true).build();
      Trainer t = Trainer.builder(model, args).trainData(data(1, false)).evalData(data(2, false))
          .callback(new EarlyStoppingCallback(2, 0.0)).build();
      t.train();
      assertEquals(6, t.state().globalStep(), "evaluations at steps 2 (best), 4 and 6 (no improvement)");
      assertEquals(2L, t.state().bestGlobalStep());
    }
  }

  @Test
  void trainingLeavesTheCallingThreadsGradModeAsItFoundIt() {
    // train() may run in a notebook's thread; recording left on would break the caller's in-place updates.
    Engine.getEngine("PyTorch"); // loads libtorch: this test may run first, and calls JNI directly
    boolean before = ai.djl.pytorch.jni.JniUtils.isGradMode();
    ai.djl.pytorch.jni.JniUtils.setGradMode(false);
    try (PreTrainedModel model = mlp()) {
      TrainingArguments args = TrainingArguments.builder(tmp.toString()).perDeviceTrainBatchSize(16)
          .numTrainEpochs(1).saveStrategy("no").disableTqdm(true).build();
      Trainer.builder(model, args).trainData(data(1, false)).build().train();
      assertEquals(false, ai.djl.pytorch.jni.JniUtils.isGradMode());
    } finally {
      ai.djl.pytorch.jni.JniUtils.setGradMode(before);
    }
  }

  @Test
  void aNanLossStopsTrainingNamingTheStep() {
    try (PreTrainedModel model = mlp()) {
      TrainingArguments args = TrainingArguments.builder(tmp.toString()).perDeviceTrainBatchSize(16)
          .maxSteps(3).saveStrategy("no").disableTqdm(true).build();
      Trainer t = Trainer.builder(model, args).trainData(data(1, true)).shuffle(false).build();
      ArithmeticException e = assertThrows(ArithmeticException.class, t::train);
      assertTrue(e.getMessage().startsWith("the loss is NaN at step 1 (rank 0)"), e.getMessage());
    }
  }

  @Test
  void fp16IsRefusedOnCpu() {
    // float16 with loss scaling is a GPU mode (as transformers); GradScaler's skipping is OptimizerTest's.
    try (PreTrainedModel model = mlp()) {
      TrainingArguments args = TrainingArguments.builder(tmp.toString()).perDeviceTrainBatchSize(16)
          .maxSteps(1).fp16(true).saveStrategy("no").disableTqdm(true).build();
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> Trainer.builder(model, args).trainData(data(1, true)).shuffle(false).build());
      assertTrue(e.getMessage().startsWith("fp16 mixed precision requires a GPU"), e.getMessage());
    }
  }

  @Test
  void aDatasetWithoutTheModelsColumnsIsRefusedNamingThem() {
    try (PreTrainedModel model = mlp()) {
      ArrayData noLabels = ArrayData.builder().floats("features", new float[8], 4).build();
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> Trainer.builder(model, TrainingArguments.builder(tmp.toString()).build()).trainData(noLabels)
              .build());
      assertEquals("the train dataset lacks the column(s) [labels] that a 'mlp' model needs; it has [features]",
          e.getMessage());
    }
  }

  @Test
  void preprocessLogitsForMetricsKeepsWhatItReturnsPerRow() {
    try (PreTrainedModel model = mlp()) {
      TrainingArguments args = TrainingArguments.builder(tmp.toString()).perDeviceEvalBatchSize(10)
          .disableTqdm(true).build();
      ArrayData eval = data(7, false);
      float[][] full = Trainer.builder(model, args).evalData(eval).build().predict(eval, "test").predictions();
      List<long[]> seenLabels = new ArrayList<>();
      Trainer reduced = Trainer.builder(model, args).evalData(eval)
          .preprocessLogitsForMetrics((logits, labels) -> {
            seenLabels.add(labels.toLongArray());
            return logits.argMax(1);
          })
          .build();
      float[][] kept = reduced.predict(eval, "test").predictions();
      assertEquals(64, kept.length);
      for (int i = 0; i < 64; i++) {
        assertEquals(1, kept[i].length, "row " + i);
        assertEquals(full[i][1] > full[i][0] ? 1f : 0f, kept[i][0], "row " + i);
      }
      // 7 batches (the last of 4 rows), each hook call with its batch's labels.
      assertEquals(7, seenLabels.size());
      assertEquals(4, seenLabels.get(6).length);

      Trainer wrong = Trainer.builder(model, args).evalData(eval)
          .preprocessLogitsForMetrics((logits, labels) -> logits.sum()).build();
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, wrong::evaluate);
      assertEquals("preprocess_logits_for_metrics must return one row per batch row: got shape () for a batch"
          + " of 10 rows", e.getMessage());
    }
  }

  @Test
  void evalStrategyWithoutAnEvalDatasetIsRefused() {
    try (PreTrainedModel model = mlp()) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> Trainer.builder(model, TrainingArguments.builder(tmp.toString()).evalStrategy("epoch").build())
              .trainData(data(1, false)).build());
      assertTrue(e.getMessage().startsWith("eval_strategy=epoch requires an eval dataset"), e.getMessage());
    }
  }
}
