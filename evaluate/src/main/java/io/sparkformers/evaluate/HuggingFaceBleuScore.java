package io.sparkformers.evaluate;

import java.util.ArrayList;
import java.util.List;

/**
 * Hugging Face {@code evaluate}'s {@code bleu} result (0–1 scale, shortest reference length).
 *
 * @param bleu BLEU, 0–1
 * @param precisions n-gram precision per order 1..4, 0–1
 * @param brevityPenalty {@code brevity_penalty}
 * @param lengthRatio {@code length_ratio}: translation_length / reference_length
 * @param translationLength tokens in the predictions
 * @param referenceLength tokens in the shortest reference of each prediction, summed
 */
public record HuggingFaceBleuScore(double bleu, List<Double> precisions, double brevityPenalty, double lengthRatio,
    long translationLength, long referenceLength) implements MetricScore {

  public HuggingFaceBleuScore {
    precisions = List.copyOf(precisions);
  }

  static HuggingFaceBleuScore of(MetricResult r) {
    return new HuggingFaceBleuScore(r.getDouble("bleu"), BleuScore.doubles(r.getList("precisions")),
        r.getDouble("brevity_penalty"), r.getDouble("length_ratio"), r.getLong("translation_length"),
        r.getLong("reference_length"));
  }

  @Override
  public MetricResult toResult() {
    return MetricResult.builder().put("bleu", bleu).put("precisions", new ArrayList<Object>(precisions))
        .put("brevity_penalty", brevityPenalty).put("length_ratio", lengthRatio)
        .put("translation_length", translationLength).put("reference_length", referenceLength).build();
  }
}
