package io.sparkformers.training;

/**
 * Flags through which callbacks steer the loop (transformers' {@code TrainerControl}). The Trainer resets
 * {@code shouldLog}, {@code shouldEvaluate} and {@code shouldSave} after acting on them, and
 * {@code shouldEpochStop} at each epoch's start.
 */
public final class TrainerControl {
  public boolean shouldTrainingStop;
  public boolean shouldEpochStop;
  public boolean shouldSave;
  public boolean shouldEvaluate;
  public boolean shouldLog;

  @Override
  public String toString() {
    return "TrainerControl{stop=" + shouldTrainingStop + ", epochStop=" + shouldEpochStop + ", save="
        + shouldSave + ", evaluate=" + shouldEvaluate + ", log=" + shouldLog + "}";
  }
}
