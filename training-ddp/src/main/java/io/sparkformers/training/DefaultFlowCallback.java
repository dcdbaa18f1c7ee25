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
    if ("steps".equals(args.loggingStrategy()) && step % state.loggingSteps() == 0) {
      control.shouldLog = true;
    }
    if ("steps".equals(args.evalStrategy()) && step % state.evalSteps() == 0) {
      control.shouldEvaluate = true;
    }
    if ("steps".equals(args.saveStrategy()) && state.saveSteps() > 0 && step % state.saveSteps() == 0) {
      control.shouldSave = true;
    }
    if (step >= state.maxSteps()) {
      control.shouldTrainingStop = true;
      if (!"no".equals(args.saveStrategy())) {
        control.shouldSave = true;
      }
    }
  }

  @Override
  public void onEpochEnd(TrainingArguments args, TrainerState state, TrainerControl control) {
    if ("epoch".equals(args.loggingStrategy())) {
      control.shouldLog = true;
    }
    if ("epoch".equals(args.evalStrategy())) {
      control.shouldEvaluate = true;
    }
    if ("epoch".equals(args.saveStrategy())) {
      control.shouldSave = true;
    }
  }
}
