package io.sparkformers.evaluate;

import java.util.ArrayList;
import java.util.List;

/**
 * scikit-learn's {@code average=None}: precision, recall and F-beta of each label, in label order.
 *
 * @param labels the labels ({@code Long} or {@code String}), sorted as scikit-learn sorts them, or as given
 * @param precision per label
 * @param recall per label
 * @param f1 per label (F-beta when the options set beta)
 * @param accuracy {@code accuracy_score} over all examples
 */
public record PerLabelScores(List<Object> labels, List<Double> precision, List<Double> recall, List<Double> f1,
    double accuracy) implements MetricScore {

  public PerLabelScores {
    labels = List.copyOf(labels);
    precision = List.copyOf(precision);
    recall = List.copyOf(recall);
    f1 = List.copyOf(f1);
  }

  static PerLabelScores of(MetricResult r) {
    return new PerLabelScores(r.getList("labels"), r.getList("precision"), r.getList("recall"), r.getList("f1"),
        r.getDouble("accuracy"));
  }

  @Override
  public MetricResult toResult() {
    return MetricResult.builder().put("precision", new ArrayList<>(precision)).put("recall", new ArrayList<>(recall))
        .put("f1", new ArrayList<>(f1)).put("labels", new ArrayList<>(labels)).put("accuracy", accuracy).build();
  }
}
