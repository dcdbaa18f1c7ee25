package io.sparkformers.evaluate;

/**
 * Hugging Face's {@code exact_match}.
 *
 * @param exactMatch the share of predictions equal to a reference, 0–1; NaN for no examples
 */
public record ExactMatchScore(double exactMatch) implements MetricScore {

  static ExactMatchScore of(MetricResult r) {
    return new ExactMatchScore(r.getDouble("exact_match"));
  }

  @Override
  public MetricResult toResult() {
    return MetricResult.builder().put("exact_match", exactMatch).build();
  }
}
