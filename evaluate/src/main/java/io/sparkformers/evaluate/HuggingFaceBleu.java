package io.sparkformers.evaluate;

import io.sparkformers.evaluate.internal.SacreTokenizers;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

/**
 * Hugging Face {@code evaluate}'s {@code bleu} metric (tensorflow/nmt's {@code compute_bleu} on 13a tokens, not
 * sacrebleu): the SHORTEST reference length, no smoothing unless asked (then add-one on every order), a 0–1
 * scale. Keys: bleu, precisions, brevity_penalty, length_ratio, translation_length, reference_length.
 */
public final class HuggingFaceBleu implements TextMetric<HuggingFaceBleu.Stats> {
  private static final long serialVersionUID = 1L;
  private static final int MAX_ORDER = 4;
  private final boolean smooth;

  public HuggingFaceBleu() {
    this(false);
  }

  public HuggingFaceBleu(boolean smooth) {
    this.smooth = smooth;
  }

  @Override
  public String name() {
    return "hf_bleu";
  }

  @Override
  public Stats newState() {
    return new Stats();
  }

  @Override
  public void add(Stats s, String prediction, List<String> references) {
    List<String> refs = TextMetric.checkedReferences(prediction, references);
    List<List<String>> refTokens = new ArrayList<>(refs.size());
    int shortest = Integer.MAX_VALUE;
    for (String r : refs) {
      List<String> t = SacreTokenizers.tokenize13a(r);
      refTokens.add(t);
      shortest = Math.min(shortest, t.size());
    }
    List<String> hyp = SacreTokenizers.tokenize13a(prediction);
    long[] seg = Bleu.segmentStatistics(hyp, refTokens, MAX_ORDER);
    s.translationLength += hyp.size();
    s.referenceLength += shortest;
    for (int k = 0; k < MAX_ORDER; k++) {
      s.matches[k] += seg[2 + k];
      s.possible[k] += seg[2 + MAX_ORDER + k];
    }
    s.segments++;
  }

  @Override
  public Stats merge(Stats into, Stats o) {
    into.translationLength += o.translationLength;
    into.referenceLength += o.referenceLength;
    for (int k = 0; k < MAX_ORDER; k++) {
      into.matches[k] += o.matches[k];
      into.possible[k] += o.possible[k];
    }
    into.segments += o.segments;
    return into;
  }

  @Override
  public MetricResult compute(Stats s) {
    double[] precisions = new double[MAX_ORDER];
    double minP = Double.POSITIVE_INFINITY;
    for (int i = 0; i < MAX_ORDER; i++) {
      if (smooth) {
        precisions[i] = (s.matches[i] + 1.) / (s.possible[i] + 1.);
      } else {
        precisions[i] = s.possible[i] > 0 ? (double) s.matches[i] / s.possible[i] : 0.0;
      }
      minP = Math.min(minP, precisions[i]);
    }
    double geoMean = 0;
    if (minP > 0) {
      double logSum = 0;
      for (double p : precisions) {
        logSum += (1. / MAX_ORDER) * Math.log(p);
      }
      geoMean = Math.exp(logSum);
    }
    if (s.referenceLength == 0) {
      throw new MetricException("Hugging Face bleu raises ZeroDivisionError: the references have no tokens");
    }
    double ratio = (double) s.translationLength / s.referenceLength;
    double bp;
    if (ratio > 1.0) {
      bp = 1.;
    } else {
      if (ratio == 0) {
        throw new MetricException("Hugging Face bleu raises ZeroDivisionError: the predictions have no tokens");
      }
      bp = Math.exp(1 - 1. / ratio);
    }
    List<Object> precs = new ArrayList<>();
    for (double p : precisions) {
      precs.add(p);
    }
    return MetricResult.builder()
        .put("bleu", geoMean * bp)
        .put("precisions", precs)
        .put("brevity_penalty", bp)
        .put("length_ratio", ratio)
        .put("translation_length", s.translationLength)
        .put("reference_length", s.referenceLength)
        .build();
  }

  /** Match and possible-match counts per order, and the two lengths. */
  public static final class Stats implements Serializable {
    private static final long serialVersionUID = 1L;
    final long[] matches = new long[MAX_ORDER];
    final long[] possible = new long[MAX_ORDER];
    long translationLength;
    long referenceLength;
    long segments;
  }
}
