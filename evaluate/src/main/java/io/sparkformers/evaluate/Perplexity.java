package io.sparkformers.evaluate;

import java.io.Serializable;

/**
 * Perplexity from per-token natural-log likelihoods: corpus perplexity exp(-Σ log p / tokens), and Hugging
 * Face's mean_perplexity, the mean over sequences of each sequence's exp(-mean log p).
 */
public final class Perplexity implements Serializable {
  private static final long serialVersionUID = 1L;

  public Stats newState() {
    return new Stats();
  }

  /** Adds one sequence's token log-likelihoods (natural log, each ≤ 0). */
  public void add(Stats s, double[] tokenLogLikelihoods) {
    if (tokenLogLikelihoods == null || tokenLogLikelihoods.length == 0) {
      throw new InvalidInputException("a sequence needs at least one token log-likelihood");
    }
    Rouge.Sum seq = new Rouge.Sum();
    for (int i = 0; i < tokenLogLikelihoods.length; i++) {
      double x = tokenLogLikelihoods[i];
      if (Double.isNaN(x) || x > 0) {
        throw new InvalidInputException("token " + i + " has log-likelihood " + x + "; expected a number <= 0");
      }
      seq.add(x);
    }
    s.logLikelihood.add(seq.value());
    s.tokens += tokenLogLikelihoods.length;
    s.sequencePerplexities.add(Math.exp(-seq.value() / tokenLogLikelihoods.length));
    s.sequences++;
  }

  public Stats merge(Stats into, Stats o) {
    into.logLikelihood.add(o.logLikelihood);
    into.sequencePerplexities.add(o.sequencePerplexities);
    into.tokens += o.tokens;
    into.sequences += o.sequences;
    return into;
  }

  public MetricResult compute(Stats s) {
    if (s.tokens == 0) {
      throw new MetricException("perplexity of no tokens");
    }
    return MetricResult.builder()
        .put("perplexity", Math.exp(-s.logLikelihood.value() / s.tokens))
        .put("mean_perplexity", s.sequencePerplexities.value() / s.sequences)
        .put("tokens", s.tokens)
        .put("sequences", s.sequences)
        .build();
  }

  public static final class Stats implements Serializable {
    private static final long serialVersionUID = 1L;
    final Rouge.Sum logLikelihood = new Rouge.Sum();
    final Rouge.Sum sequencePerplexities = new Rouge.Sum();
    long tokens;
    long sequences;
  }
}
