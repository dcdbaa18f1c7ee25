package io.sparkformers.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TrainingArgumentsTest {

  static String error(Map<String, ?> values) {
    return assertThrows(IllegalArgumentException.class, () -> TrainingArguments.fromMap(values, "job.yaml"))
        .getMessage();
  }

  @Test
  void defaultsAreTransformers() {
    TrainingArguments a = TrainingArguments.builder("out").build();
    assertEquals(42, a.seed());
    assertEquals(42, a.dataSeed());
    assertEquals(8, a.perDeviceTrainBatchSize());
    assertEquals(1, a.gradientAccumulationSteps());
    assertEquals(3.0, a.numTrainEpochs());
    assertEquals(-1, a.maxSteps());
    assertEquals(5e-5, a.learningRate());
    assertEquals(0.9, a.adamBeta1());
    assertEquals(0.999, a.adamBeta2());
    assertEquals(1e-8, a.adamEpsilon());
    assertEquals("linear", a.lrSchedulerType().value());
    assertEquals(1.0, a.maxGradNorm());
    assertEquals(500, a.loggingSteps());
    assertEquals("no", a.evalStrategy().value());
    assertEquals("steps", a.saveStrategy().value());
    assertEquals(500, a.saveSteps());
    assertNull(a.saveTotalLimit());
    assertEquals("adamw_torch", a.optim().value());
    assertEquals(25, a.ddpBucketCapMb());
  }

  @Test
  void snakeCaseKeysFromAConfigMap() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("output_dir", "/tmp/x");
    m.put("learning_rate", "3e-4");
    m.put("num_train_epochs", 2);
    m.put("per_device_train_batch_size", 16);
    m.put("eval_strategy", "steps");
    m.put("eval_steps", 50);
    m.put("save_steps", 100);
    m.put("load_best_model_at_end", "true");
    m.put("warmup_ratio", 0.1);
    TrainingArguments a = TrainingArguments.fromMap(m, "job.yaml");
    assertEquals(3e-4, a.learningRate());
    assertEquals(16, a.perDeviceTrainBatchSize());
    assertEquals(50, a.evalSteps());
    assertTrue(a.loadBestModelAtEnd());
    // transformers: metric_for_best_model defaults to loss, where lower is better.
    assertEquals("loss", a.metricForBestModel());
    assertFalse(a.greaterIsBetter());
    assertEquals(10, a.warmupStepsFor(100));
    assertEquals(11, a.warmupStepsFor(101), "ceil(num_training_steps * warmup_ratio)");
  }

  @Test
  void unknownKeyNamesTheNearestValidKey() {
    String e = error(Map.of("learning_rat", 0.1));
    assertTrue(e.contains("job.yaml: unknown key 'learning_rat' — did you mean 'learning_rate'?"), e);
  }

  @Test
  void wrongTypeNamesKeyAndExpectedType() {
    String e = error(Map.of("per_device_train_batch_size", "eight"));
    assertEquals("job.yaml: key 'per_device_train_batch_size': expected an integer, got 'eight'", e);
  }

  @Test
  void loadBestModelNeedsMatchingStrategies() {
    String e = error(Map.of("load_best_model_at_end", true, "eval_strategy", "epoch", "save_strategy", "steps"));
    assertTrue(e.contains("--load_best_model_at_end requires the save and eval strategy to match"), e);
    String steps = error(Map.of("load_best_model_at_end", true, "eval_strategy", "steps", "eval_steps", 30,
        "save_steps", 50));
    assertTrue(steps.contains("round multiple of the evaluation steps"), steps);
  }

  @Test
  void bf16IsAcceptedAndNotTogetherWithFp16() {
    assertTrue(TrainingArguments.builder("out").bf16(true).build().bf16());
    String e = error(Map.of("bf16", true, "fp16", true));
    assertTrue(e.contains("At most one of fp16 and bf16 can be True, but not both"), e);
  }

  @Test
  void badValuesFailBeforeTraining() {
    assertTrue(error(Map.of("warmup_ratio", 1.5)).contains("warmup_ratio must lie in range [0,1]"));
    assertTrue(error(Map.of("lr_scheduler_type", "cosin")).contains("did you mean 'cosine'"));
    assertTrue(error(Map.of("logging_steps", 2.5)).contains("--logging_steps must be an integer if bigger than 1"));
    assertTrue(error(Map.of("gradient_accumulation_steps", 0)).contains("gradient_accumulation_steps must be a positive"));
    assertTrue(error(Map.of("max_steps", 0)).contains("max_steps must be a positive number"));
    assertTrue(error(Map.of("save_strategy", "best")).contains("save_strategy=best requires metric_for_best_model"));
    assertTrue(error(Map.of("eval_strategy", "steps", "logging_steps", 0, "logging_strategy", "no"))
        .contains("evaluation strategy steps requires either non-zero --eval_steps or --logging_steps"));
  }

  @Test
  void ratioIntervalsAreFractionsOfTheTotalSteps() {
    assertEquals(13, TrainingArguments.intervalSteps(0.1, 125));
    assertEquals(20, TrainingArguments.intervalSteps(20, 125));
  }
}
