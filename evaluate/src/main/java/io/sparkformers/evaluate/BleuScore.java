package io.sparkformers.evaluate;

import java.util.ArrayList;
import java.util.List;

/**
 * sacrebleu's {@code BLEUScore}: corpus BLEU on sacrebleu's 0–100 scale.
 *
 * @param score BLEU, 0–100
 * @param counts matching n-grams per order (1..max_ngram_order); whole numbers, except that add-k smoothing adds
 *     its value to the orders above 1, as sacrebleu does
 * @param totals the prediction's n-grams per order (add-k as for counts)
 * @param precisions n-gram precision per order, 0–100, smoothed as asked
 * @param bp brevity penalty
 * @param ratio sys_len / ref_len
 * @param sysLen tokens in the predictions ({@code sys_len})
 * @param refLen tokens in the closest references ({@code ref_len})
 * @param formatted sacrebleu's one-line summary, e.g. {@code BLEU = 65.20 89.7/71.8/62.6/56.2 (BP = ...)}
 * @param signature sacrebleu's signature, e.g. {@code nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0}
 */
public record BleuScore(double score, List<Double> counts, List<Double> totals, List<Double> precisions, double bp,
    double ratio, long sysLen, long refLen, String formatted, String signature) implements MetricScore {

  public BleuScore {
    counts = List.copyOf(counts);
    totals = List.copyOf(totals);
    precisions = List.copyOf(precisions);
  }

  static BleuScore of(MetricResult r) {
    return new BleuScore(r.getDouble("score"), doubles(r.getList("counts")), doubles(r.getList("totals")),
        doubles(r.getList("precisions")), r.getDouble("bp"), r.getDouble("ratio"), r.getLong("sys_len"),
        r.getLong("ref_len"), r.getString("formatted"), r.getString("signature"));
  }

  @Override
  public MetricResult toResult() {
    List<Object> c = new ArrayList<>();
    List<Object> t = new ArrayList<>();
    for (int k = 0; k < counts.size(); k++) {
      c.add(Bleu.asNumber(counts.get(k)));
      t.add(Bleu.asNumber(totals.get(k)));
    }
    return MetricResult.builder().put("score", score).put("counts", c).put("totals", t)
        .put("precisions", new ArrayList<Object>(precisions)).put("bp", bp).put("ratio", ratio).put("sys_len", sysLen)
        .put("ref_len", refLen).put("formatted", formatted).put("signature", signature).build();
  }

  static List<Double> doubles(List<Object> numbers) {
    List<Double> out = new ArrayList<>(numbers.size());
    for (Object n : numbers) {
      out.add(((Number) n).doubleValue());
    }
    return out;
  }
}
