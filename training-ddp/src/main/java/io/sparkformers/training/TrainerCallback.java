package io.sparkformers.training;

import java.util.Map;

/**
 * Hooks into the training loop (transformers' {@code TrainerCallback}); every method does nothing by default.
 * Callbacks run on every rank; {@link TrainerState#isWorldProcessZero()} tells rank 0 apart. They may set the
 * {@link TrainerControl} flags.
 */
public interface TrainerCallback {
  default void onTrainBegin(TrainingArguments args, TrainerState state, TrainerControl control) {}

  default void onTrainEnd(TrainingArguments args, TrainerState state, TrainerControl control) {}

  default void onEpochBegin(TrainingArguments args, TrainerState state, TrainerControl control) {}

  default void onEpochEnd(TrainingArguments args, TrainerState state, TrainerControl control) {}

  default void onStepBegin(TrainingArguments args, TrainerState state, TrainerControl control) {}

  /** After the last micro-batch's backward of a step, before the gradients are synchronised and applied. */
  default void onPreOptimizerStep(TrainingArguments args, TrainerState state, TrainerControl control) {}

  /** After the optimizer applied the step's gradients and they were zeroed. */
  default void onOptimizerStep(TrainingArguments args, TrainerState state, TrainerControl control) {}

  /** After each optimizer step ({@code state.globalStep} already counts it). */
  default void onStepEnd(TrainingArguments args, TrainerState state, TrainerControl control) {}

  /** With the entry just appended to {@code state.logHistory()} (without its {@code step} key). */
  default void onLog(TrainingArguments args, TrainerState state, TrainerControl control,
      Map<String, Object> logs) {}

  /** With the evaluation's metrics, {@code eval_}-prefixed. */
  default void onEvaluate(TrainingArguments args, TrainerState state, TrainerControl control,
      Map<String, Double> metrics) {}

  /** After a checkpoint was written (on rank 0) and agreed on by every rank. */
  default void onSave(TrainingArguments args, TrainerState state, TrainerControl control) {}
}
