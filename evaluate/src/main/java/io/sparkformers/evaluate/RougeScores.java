package io.sparkformers.evaluate;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * ROUGE per type (rouge1, rouge2, rougeL, rougeLsum, or the types asked for): rouge-score's precision, recall
 * and F-measure of each example, averaged over the examples (the plain mean; Hugging Face's {@code rouge}
 * reports the F-measure of a bootstrap median, which is close to it).
 *
 * @param byType the types in the order asked for
 */
public record RougeScores(Map<String, RougeScore> byType) implements MetricScore {

  public RougeScores {
    byType = Collections.unmodifiableMap(new LinkedHashMap<>(byType));
  }

  static RougeScores of(MetricResult r) {
    Map<String, RougeScore> types = new LinkedHashMap<>();
    for (String type : r.asMap().keySet()) {
      MetricResult t = r.getResult(type);
      types.put(type, new RougeScore(t.getDouble("precision"), t.getDouble("recall"), t.getDouble("fmeasure")));
    }
    return new RougeScores(types);
  }

  /** One type's values; an IllegalArgumentException names the types computed when it was not one of them. */
  public RougeScore get(String type) {
    RougeScore s = byType.get(type);
    if (s == null) {
      throw new IllegalArgumentException("no ROUGE type '" + type + "' in this result; it has " + byType.keySet());
    }
    return s;
  }

  public RougeScore rouge1() {
    return get("rouge1");
  }

  public RougeScore rouge2() {
    return get("rouge2");
  }

  public RougeScore rougeL() {
    return get("rougeL");
  }

  public RougeScore rougeLsum() {
    return get("rougeLsum");
  }

  @Override
  public MetricResult toResult() {
    MetricResult.Builder b = MetricResult.builder();
    for (Map.Entry<String, RougeScore> e : byType.entrySet()) {
      RougeScore s = e.getValue();
      b.put(e.getKey(), MetricResult.builder().put("precision", s.precision()).put("recall", s.recall())
          .put("fmeasure", s.fmeasure()).build());
    }
    return b.build();
  }
}
