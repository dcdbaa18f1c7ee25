package io.sparkformers.evaluate;

/**
 * Perplexity from token log-likelihoods.
 *
 * @param perplexity corpus perplexity, exp(-Σ log p / tokens)
 * @param meanPerplexity Hugging Face's {@code mean_perplexity}: the mean of each sequence's perplexity
 * @param tokens tokens scored
 * @param sequences sequences scored
 */
public record PerplexityScore(double perplexity, double meanPerplexity, long tokens, long sequences)
    implements MetricScore {

  static PerplexityScore of(MetricResult r) {
    return new PerplexityScore(r.getDouble("perplexity"), r.getDouble("mean_perplexity"), r.getLong("tokens"),
        r.getLong("sequences"));
  }

  @Override
  public MetricResult toResult() {
    return MetricResult.builder().put("perplexity", perplexity).put("mean_perplexity", meanPerplexity)
        .put("tokens", tokens).put("sequences", sequences).build();
  }
}
