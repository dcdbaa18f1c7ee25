package io.sparkformers.training;

/**
 * transformers' {@code DefaultFlowCallback}: decides from the arguments when the loop logs, evaluates, saves
 * and stops. The Trainer runs it before every other callback, so that theirs can see and change its decisions.
 */
public final class DefaultFlowCallback implements TrainerCallback {

  @Override
  public void onStepEnd(TrainingArguments args, TrainerState state, TrainerControl control) {
    long step = state.globalStep();
    if (step == 1 && args.loggingFirstStep()) {
      control.shouldLog = true;
    }
    if (args.loggingStrategy() == IntervalStrategy.STEPS && step % state.loggingSteps() == 0) {
      control.shouldLog = true;
    }
    if (args.evalStrategy() == IntervalStrategy.STEPS && step % state.evalSteps() == 0) {
      control.shouldEvaluate = true;
    }
    if (args.saveStrategy() == SaveStrategy.STEPS && state.saveSteps() > 0 && step % state.saveSteps() == 0) {
      control.shouldSave = true;
    }
    if (step >= state.maxSteps()) {
      control.shouldTrainingStop = true;
      if (args.saveStrategy() != SaveStrategy.NO) {
        control.shouldSave = true;
      }
    }
  }

  @Override
  public void onEpochEnd(TrainingArguments args, TrainerState state, TrainerControl control) {
    if (args.loggingStrategy() == IntervalStrategy.EPOCH) {
      control.shouldLog = true;
    }
    if (args.evalStrategy() == IntervalStrategy.EPOCH) {
      control.shouldEvaluate = true;
    }
    if (args.saveStrategy() == SaveStrategy.EPOCH) {
      control.shouldSave = true;
    }
  }
}
