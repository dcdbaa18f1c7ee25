package io.sparkformers.evaluate;

import io.sparkformers.config.KeyNames;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A metric chosen by its Hugging Face {@code evaluate} name ({@link Metrics#load}); {@link #compute} returns
 * the typed result of {@link Metrics}' method for it, as a {@link MetricScore}.
 */
public final class LoadedMetric {
  /** The names {@link Metrics#load} knows, as Hugging Face {@code evaluate} spells them. */
  public static final List<String> NAMES = List.of("bleu", "sacrebleu", "chrf", "rouge", "exact_match", "accuracy",
      "f1", "precision", "recall", "perplexity");

  private final String name;

  private LoadedMetric(String name) {
    this.name = name;
  }

  static LoadedMetric named(String name) {
    if (name == null || !NAMES.contains(name)) {
      throw new IllegalArgumentException("unknown metric '" + name + "'" + didYouMean(name) + "; known: "
          + String.join(", ", NAMES));
    }
    return new LoadedMetric(name);
  }

  public String name() {
    return name;
  }

  /**
   * Scores predictions against references. Text metrics take strings, and per prediction a list of reference
   * strings or one string; accuracy, f1, precision and recall take integer or string labels. The result is a
   * {@link HuggingFaceBleuScore} (bleu), {@link BleuScore} (sacrebleu), {@link ChrfScore}, {@link RougeScores},
   * {@link ExactMatchScore}, {@link AccuracyScore} or {@link ClassificationScores} (f1, precision, recall).
   */
  public MetricScore compute(List<?> predictions, List<?> references) {
    if (name.equals("perplexity")) {
      throw new IllegalArgumentException("perplexity takes no references: call compute(tokenLogLikelihoods)");
    }
    Metrics.checkSizes(predictions, references);
    switch (name) {
      case "accuracy":
        return Metrics.accuracy(predictions, references);
      case "f1":
      case "precision":
      case "recall":
        return Metrics.classification(predictions, references, Classification.Options.builder().build());
      default:
        break;
    }
    List<String> preds = Metrics.strings(predictions, "prediction");
    List<List<String>> refs = referenceLists(references);
    switch (name) {
      case "bleu":
        return Metrics.bleu(preds, refs);
      case "sacrebleu":
        return Metrics.sacrebleu(preds, refs);
      case "chrf":
        return Metrics.chrf(preds, refs);
      case "rouge":
        return Metrics.rouge(preds, refs);
      case "exact_match":
        return Metrics.exactMatch(preds, refs);
      default:
        throw new IllegalStateException("no text metric " + name);
    }
  }

  /**
   * Perplexity of sequences from their per-token log-likelihoods: a {@code double[]} or a list of numbers per
   * sequence. Returns a {@link PerplexityScore}.
   */
  public MetricScore compute(List<?> tokenLogLikelihoods) {
    if (!name.equals("perplexity")) {
      throw new IllegalArgumentException(name + " needs references: call compute(predictions, references)");
    }
    if (tokenLogLikelihoods == null) {
      throw new InvalidInputException("tokenLogLikelihoods is null; expected a list with one entry per sequence");
    }
    List<double[]> sequences = new ArrayList<>(tokenLogLikelihoods.size());
    for (int i = 0; i < tokenLogLikelihoods.size(); i++) {
      Object v = tokenLogLikelihoods.get(i);
      if (v instanceof double[] d) {
        sequences.add(d);
      } else if (v instanceof List<?> list) {
        double[] d = new double[list.size()];
        for (int k = 0; k < d.length; k++) {
          if (!(list.get(k) instanceof Number n)) {
            throw new InvalidInputException("sequence " + i + ": token " + k + " is " + list.get(k)
                + "; expected a number");
          }
          d[k] = n.doubleValue();
        }
        sequences.add(d);
      } else {
        throw new InvalidInputException("sequence " + i + " is " + (v == null ? "null" : "a "
            + v.getClass().getSimpleName()) + "; expected a double[] or a list of numbers");
      }
    }
    return Metrics.perplexity(sequences);
  }

  private static List<List<String>> referenceLists(List<?> references) {
    List<List<String>> out = new ArrayList<>(references.size());
    for (int i = 0; i < references.size(); i++) {
      Object r = references.get(i);
      if (r instanceof String s) {
        out.add(List.of(s)); // one reference per prediction, as Hugging Face's bleu and rouge accept
      } else if (r instanceof List<?> list) {
        List<String> refs = new ArrayList<>(list.size());
        for (Object x : list) {
          if (x != null && !(x instanceof String)) {
            throw new InvalidInputException("example " + i + ": references holds a " + x.getClass().getSimpleName()
                + "; expected strings");
          }
          refs.add((String) x);
        }
        out.add(refs);
      } else if (r == null) {
        out.add(null); // the metric reports it
      } else {
        throw new InvalidInputException("example " + i + ": references has type " + r.getClass().getSimpleName()
            + "; expected a list of strings or a string");
      }
    }
    return out;
  }

  /** "; did you mean 'x'?" for the nearest known name within a few edits, else "". */
  static String didYouMean(String name) {
    if (name == null) {
      return "";
    }
    String lower = name.toLowerCase(Locale.ROOT).replace('-', '_');
    String best = null;
    int bestDistance = Integer.MAX_VALUE;
    for (String known : NAMES) {
      int d = KeyNames.distance(lower, known);
      if (d < bestDistance) {
        bestDistance = d;
        best = known;
      }
    }
    return bestDistance <= Math.max(2, best.length() / 3) ? "; did you mean '" + best + "'?" : "";
  }

  @Override
  public String toString() {
    return "LoadedMetric[" + name + "]";
  }
}
