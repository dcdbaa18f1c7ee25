package io.sparkformers.evaluate;

/**
 * sacrebleu's {@code CHRFScore}: chrF or chrF++ on a 0–100 scale.
 *
 * @param score chrF, 0–100
 * @param charOrder character n-gram orders (6)
 * @param wordOrder word n-gram orders (0 for chrF, 2 for chrF++)
 * @param beta recall's weight (2)
 * @param formatted e.g. {@code chrF2 = 58.12}
 * @param signature sacrebleu's signature
 */
public record ChrfScore(double score, int charOrder, int wordOrder, int beta, String formatted, String signature)
    implements MetricScore {

  static ChrfScore of(MetricResult r) {
    return new ChrfScore(r.getDouble("score"), (int) r.getLong("char_order"), (int) r.getLong("word_order"),
        (int) r.getLong("beta"), r.getString("formatted"), r.getString("signature"));
  }

  @Override
  public MetricResult toResult() {
    return MetricResult.builder().put("score", score).put("char_order", (long) charOrder)
        .put("word_order", (long) wordOrder).put("beta", (long) beta).put("formatted", formatted)
        .put("signature", signature).build();
  }
}
