package io.sparkformers.evaluate;

/**
 * scikit-learn's precision, recall and F-beta under one averaging mode, and the accuracy.
 *
 * @param average binary, micro, macro or weighted (scikit-learn's {@code average})
 * @param precision {@code precision_score}
 * @param recall {@code recall_score}
 * @param f1 {@code f1_score} (F-beta when the options set beta)
 * @param accuracy {@code accuracy_score}
 */
public record ClassificationScores(String average, double precision, double recall, double f1, double accuracy)
    implements MetricScore {

  static ClassificationScores of(String average, MetricResult r) {
    return new ClassificationScores(average, r.getDouble("precision"), r.getDouble("recall"), r.getDouble("f1"),
        r.getDouble("accuracy"));
  }

  @Override
  public MetricResult toResult() {
    return MetricResult.builder().put("precision", precision).put("recall", recall).put("f1", f1)
        .put("accuracy", accuracy).build();
  }
}
