package io.sparkformers.training;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** transformers' DefaultFlowCallback decisions, step by step. */
class DefaultFlowCallbackTest {
  private final DefaultFlowCallback flow = new DefaultFlowCallback();

  private static TrainerState state(long step, long maxSteps, long every) {
    TrainerState s = new TrainerState();
    s.globalStep = step;
    s.maxSteps = maxSteps;
    s.loggingSteps = every;
    s.evalSteps = every;
    s.saveSteps = every;
    return s;
  }

  @Test
  void stepsStrategiesFireOnMultiplesOfTheirInterval() {
    TrainingArguments args = TrainingArguments.builder("out").evalStrategy("steps").build();
    TrainerControl c = new TrainerControl();
    flow.onStepEnd(args, state(3, 100, 4), c);
    assertFalse(c.shouldLog || c.shouldEvaluate || c.shouldSave || c.shouldTrainingStop);
    flow.onStepEnd(args, state(8, 100, 4), c);
    assertTrue(c.shouldLog && c.shouldEvaluate && c.shouldSave);
    assertFalse(c.shouldTrainingStop);
  }

  @Test
  void theLastStepStopsAndSavesUnlessSavingIsOff() {
    TrainerControl c = new TrainerControl();
    flow.onStepEnd(TrainingArguments.builder("out").build(), state(7, 7, 500), c);
    assertTrue(c.shouldTrainingStop && c.shouldSave);
    assertFalse(c.shouldLog);
    TrainerControl off = new TrainerControl();
    flow.onStepEnd(TrainingArguments.builder("out").saveStrategy("no").build(), state(7, 7, 500), off);
    assertTrue(off.shouldTrainingStop);
    assertFalse(off.shouldSave);
  }

  @Test
  void loggingFirstStepLogsStepOne() {
    TrainerControl c = new TrainerControl();
    flow.onStepEnd(TrainingArguments.builder("out").loggingFirstStep(true).build(), state(1, 100, 50), c);
    assertTrue(c.shouldLog);
  }

  @Test
  void epochStrategiesFireAtEpochEndOnly() {
    TrainingArguments args = TrainingArguments.builder("out").loggingStrategy("epoch").evalStrategy("epoch")
        .saveStrategy("epoch").build();
    TrainerControl c = new TrainerControl();
    flow.onStepEnd(args, state(10, 100, 10), c);
    assertFalse(c.shouldLog || c.shouldEvaluate || c.shouldSave);
    flow.onEpochEnd(args, state(10, 100, 10), c);
    assertTrue(c.shouldLog && c.shouldEvaluate && c.shouldSave);
  }
}
