package io.sparkformers.training;

import java.util.Map;

/**
 * Stops training when {@code metric_for_best_model} has not improved by more than {@code threshold} for
 * {@code patience} evaluations in a row (transformers' {@code EarlyStoppingCallback}). Needs
 * {@code load_best_model_at_end}, {@code metric_for_best_model} and an evaluation strategy, as transformers'.
 */
public final class EarlyStoppingCallback implements TrainerCallback {
  private final int patience;
  private final double threshold;
  private int patienceCounter;

  public EarlyStoppingCallback(int patience, double threshold) {
    if (patience < 1) {
      throw new IllegalArgumentException("early_stopping_patience must be >= 1, got " + patience);
    }
    this.patience = patience;
    this.threshold = threshold;
  }

  public EarlyStoppingCallback() {
    this(1, 0.0);
  }

  @Override
  public void onTrainBegin(TrainingArguments args, TrainerState state, TrainerControl control) {
    if (!args.loadBestModelAtEnd()) {
      throw new IllegalArgumentException("EarlyStoppingCallback requires load_best_model_at_end = true");
    }
    if (args.metricForBestModel() == null) {
      throw new IllegalArgumentException("EarlyStoppingCallback requires metric_for_best_model to be defined");
    }
    if (args.evalStrategy() == IntervalStrategy.NO) {
      throw new IllegalArgumentException("EarlyStoppingCallback requires eval_strategy of steps or epoch");
    }
  }

  @Override
  public void onEvaluate(TrainingArguments args, TrainerState state, TrainerControl control,
      Map<String, Double> metrics) {
    String key = args.metricForBestModel();
    if (!key.startsWith("eval_")) {
      key = "eval_" + key;
    }
    Double value = metrics.get(key);
    if (value == null) {
      throw new IllegalArgumentException("early stopping needs the metric '" + key + "', but the evaluation"
          + " gave only " + metrics.keySet());
    }
    Double best = state.bestMetric();
    boolean better = best == null || ((args.greaterIsBetter() ? value > best : value < best)
        && Math.abs(value - best) > threshold);
    patienceCounter = better ? 0 : patienceCounter + 1;
    if (patienceCounter >= patience) {
      control.shouldTrainingStop = true;
    }
  }

  public int patienceCounter() {
    return patienceCounter;
  }
}
