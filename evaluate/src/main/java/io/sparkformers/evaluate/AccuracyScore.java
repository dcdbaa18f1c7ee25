package io.sparkformers.evaluate;

/**
 * scikit-learn's {@code accuracy_score}: the share of predictions equal to their reference, any number of labels.
 *
 * @param accuracy 0–1; NaN for no examples (numpy's mean of nothing)
 */
public record AccuracyScore(double accuracy) implements MetricScore {

  @Override
  public MetricResult toResult() {
    return MetricResult.builder().put("accuracy", accuracy).build();
  }
}
