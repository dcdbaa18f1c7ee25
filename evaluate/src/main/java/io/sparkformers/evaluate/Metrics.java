package io.sparkformers.evaluate;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

/**
 * Metrics in one call over whole lists, with typed results: what {@code evaluate.load("sacrebleu").compute(
 * predictions=..., references=...)} is in Hugging Face {@code evaluate}, for a notebook or a test. The values
 * are those of the metric classes ({@link Bleu}, {@link Rouge}, ...) and of the Spark aggregations over them;
 * for data that does not fit in one JVM use {@link EvaluateFunctions}.
 *
 * <pre>{@code
 * BleuScore bleu = Metrics.sacrebleu(predictions, references);      // bleu.score(), bleu.signature()
 * RougeScores rouge = Metrics.rouge(predictions, references);       // rouge.rougeL().fmeasure()
 * ClassificationScores f1 = Metrics.classification(predicted, labels,
 *     Classification.Options.builder().average("macro").build());    // f1.f1(), f1.accuracy()
 * MetricScore any = Metrics.load("chrf").compute(predictions, references);
 * System.out.println(any.toJson());
 * }</pre>
 *
 * <p>{@code references} holds, for each prediction, its list of references (any number; a null among them is
 * dropped, as sacrebleu pads a varying number). A predictions list and a references list of different sizes,
 * a null or a bad element fail with an {@link InvalidInputException} that names the example; where the reference
 * tool itself raises (BLEU of no examples) a {@link MetricException} says why.
 */
public final class Metrics {
  private Metrics() {}

  /**
   * The metric of that Hugging Face {@code evaluate} name, with the defaults {@code evaluate} uses: bleu
   * (Hugging Face's own BLEU, 0–1), sacrebleu (0–100), chrf, rouge, exact_match, accuracy, f1, precision, recall
   * (average binary, positive label 1) and perplexity (over token log-likelihoods).
   *
   * @throws IllegalArgumentException for another name, suggesting the nearest known one
   */
  public static LoadedMetric load(String name) {
    return LoadedMetric.named(name);
  }

  /** sacrebleu's corpus BLEU with its defaults (13a tokens, exp smoothing). */
  public static BleuScore sacrebleu(List<String> predictions, List<? extends List<String>> references) {
    return sacrebleu(predictions, references, Bleu.Options.builder().build());
  }

  /** sacrebleu's corpus BLEU with the given options. */
  public static BleuScore sacrebleu(List<String> predictions, List<? extends List<String>> references,
      Bleu.Options options) {
    return BleuScore.of(text(new Bleu(options), predictions, references));
  }

  /** Hugging Face {@code evaluate}'s {@code bleu} (no smoothing). */
  public static HuggingFaceBleuScore bleu(List<String> predictions, List<? extends List<String>> references) {
    return bleu(predictions, references, false);
  }

  /** Hugging Face {@code evaluate}'s {@code bleu}; {@code smooth} adds one to every order's counts. */
  public static HuggingFaceBleuScore bleu(List<String> predictions, List<? extends List<String>> references,
      boolean smooth) {
    return HuggingFaceBleuScore.of(text(new HuggingFaceBleu(smooth), predictions, references));
  }

  /** sacrebleu's chrF2. */
  public static ChrfScore chrf(List<String> predictions, List<? extends List<String>> references) {
    return chrf(predictions, references, new Chrf());
  }

  /** chrF with the given settings, e.g. {@link Chrf#chrfPlusPlus()}. */
  public static ChrfScore chrf(List<String> predictions, List<? extends List<String>> references, Chrf chrf) {
    return ChrfScore.of(text(chrf, predictions, references));
  }

  /** rouge1, rouge2, rougeL and rougeLsum without stemming, as rouge-score and Hugging Face default to. */
  public static RougeScores rouge(List<String> predictions, List<? extends List<String>> references) {
    return rouge(predictions, references, new Rouge());
  }

  /** ROUGE with the given types and stemming, e.g. {@code new Rouge(List.of("rougeL"), true, false)}. */
  public static RougeScores rouge(List<String> predictions, List<? extends List<String>> references, Rouge rouge) {
    return RougeScores.of(text(rouge, predictions, references));
  }

  /** Hugging Face's {@code exact_match} with no normalisation. */
  public static ExactMatchScore exactMatch(List<String> predictions, List<? extends List<String>> references) {
    return exactMatch(predictions, references, new ExactMatch());
  }

  /** {@code exact_match} with the given normalisation. */
  public static ExactMatchScore exactMatch(List<String> predictions, List<? extends List<String>> references,
      ExactMatch exactMatch) {
    return ExactMatchScore.of(text(exactMatch, predictions, references));
  }

  /** scikit-learn's {@code accuracy_score}; labels are integers or strings. */
  public static AccuracyScore accuracy(List<?> predictions, List<?> references) {
    Classification c = new Classification();
    return new AccuracyScore(c.accuracy(labels(c, predictions, references)));
  }

  /** {@link #accuracy(List, List)} of class ids, as a Trainer's {@code EvalPrediction} gives them. */
  public static AccuracyScore accuracy(long[] predictions, long[] references) {
    return accuracy(boxed(predictions), boxed(references));
  }

  private static List<Long> boxed(long[] values) {
    if (values == null) {
      return null;
    }
    return java.util.Arrays.stream(values).boxed().toList();
  }

  /**
   * scikit-learn's precision, recall, F1 and accuracy under the options' average (binary, micro, macro or
   * weighted); for average none use {@link #perLabel}.
   */
  public static ClassificationScores classification(List<?> predictions, List<?> references,
      Classification.Options options) {
    if (options.average().equals("none")) {
      throw new IllegalArgumentException("average none gives one value per label: use Metrics.perLabel");
    }
    Classification c = new Classification(options);
    return ClassificationScores.of(options.average(), c.compute(labels(c, predictions, references)));
  }

  /** Precision, recall and F1 of every label (scikit-learn's {@code average=None}). */
  public static PerLabelScores perLabel(List<?> predictions, List<?> references) {
    return perLabel(predictions, references, Classification.Options.builder().average("none").build());
  }

  /** {@link #perLabel(List, List)} with options (labels, zero_division, beta); their average must be none. */
  public static PerLabelScores perLabel(List<?> predictions, List<?> references, Classification.Options options) {
    if (!options.average().equals("none")) {
      throw new IllegalArgumentException("perLabel needs average none, got '" + options.average()
          + "': use Metrics.classification for an averaged result");
    }
    Classification c = new Classification(options);
    return PerLabelScores.of(c.compute(labels(c, predictions, references)));
  }

  /** Perplexity of sequences given each one's per-token natural-log likelihoods (each ≤ 0). */
  public static PerplexityScore perplexity(List<double[]> tokenLogLikelihoods) {
    if (tokenLogLikelihoods == null) {
      throw new InvalidInputException("tokenLogLikelihoods is null; expected a list of double[] (one per sequence)");
    }
    Perplexity p = new Perplexity();
    Perplexity.Stats s = p.newState();
    for (int i = 0; i < tokenLogLikelihoods.size(); i++) {
      try {
        p.add(s, tokenLogLikelihoods.get(i));
      } catch (InvalidInputException e) {
        throw new InvalidInputException("sequence " + i + ": " + e.getMessage());
      }
    }
    return PerplexityScore.of(p.compute(s));
  }

  /** Adds every example to a fresh state of {@code metric} and computes it: the metric's own code, once. */
  static <S extends Serializable> MetricResult text(TextMetric<S> metric, List<String> predictions,
      List<? extends List<String>> references) {
    checkSizes(predictions, references);
    S state = metric.newState();
    for (int i = 0; i < predictions.size(); i++) {
      try {
        metric.add(state, predictions.get(i), references.get(i));
      } catch (InvalidInputException e) {
        throw new InvalidInputException("example " + i + ": " + e.getMessage());
      }
    }
    return metric.compute(state);
  }

  static Classification.Stats labels(Classification c, List<?> predictions, List<?> references) {
    checkSizes(predictions, references);
    Classification.Stats s = c.newState();
    for (int i = 0; i < predictions.size(); i++) {
      try {
        c.add(s, predictions.get(i), references.get(i));
      } catch (InvalidInputException e) {
        throw new InvalidInputException("example " + i + ": " + e.getMessage());
      }
    }
    return s;
  }

  static void checkSizes(List<?> predictions, List<?> references) {
    if (predictions == null) {
      throw new InvalidInputException("predictions is null; expected a list");
    }
    if (references == null) {
      throw new InvalidInputException("references is null; expected a list with one entry per prediction");
    }
    if (predictions.size() != references.size()) {
      // Hugging Face evaluate's wording.
      throw new InvalidInputException("Mismatch in the number of predictions (" + predictions.size()
          + ") and references (" + references.size() + ")");
    }
  }

  /** Lists whose elements are checked one by one, for {@link LoadedMetric} (which takes {@code List<?>}). */
  static List<String> strings(List<?> values, String what) {
    List<String> out = new ArrayList<>(values.size());
    for (int i = 0; i < values.size(); i++) {
      Object v = values.get(i);
      if (v != null && !(v instanceof String)) {
        throw new InvalidInputException("example " + i + ": " + what + " has type " + v.getClass().getSimpleName()
            + "; expected a string");
      }
      out.add((String) v);
    }
    return out;
  }
}
