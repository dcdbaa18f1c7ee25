package io.sparkformers.training;

import java.util.Map;

/** transformers' {@code compute_metrics}: metrics by name from the evaluation's predictions. */
@FunctionalInterface
public interface ComputeMetrics {
  Map<String, Double> compute(EvalPrediction prediction);
}
