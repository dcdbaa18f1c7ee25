package io.sparkformers.evaluate;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import io.sparkformers.evaluate.ReferenceData.TextExample;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** BLEU, chrF and Hugging Face bleu/exact_match against the values sacrebleu 2.6.0 and evaluate 0.4 printed. */
class SacrebleuReferenceTest {

  static <S extends java.io.Serializable> MetricResult corpus(TextMetric<S> m, List<TextExample> data) {
    S s = m.newState();
    for (TextExample e : data) {
      m.add(s, e.prediction(), e.references());
    }
    return m.compute(s);
  }

  /** The same corpus shuffled and cut into three states merged in another order. */
  static <S extends java.io.Serializable> MetricResult shuffledAndMerged(TextMetric<S> m, List<TextExample> data) {
    List<TextExample> copy = new ArrayList<>(data);
    Collections.shuffle(copy, new Random(7));
    List<S> parts = List.of(m.newState(), m.newState(), m.newState());
    for (int i = 0; i < copy.size(); i++) {
      m.add(parts.get(i % 3), copy.get(i).prediction(), copy.get(i).references());
    }
    S merged = m.merge(parts.get(2), m.merge(parts.get(0), parts.get(1)));
    return m.compute(merged);
  }

  static void assertBleu(JsonNode exp, MetricResult got, String what) {
    assertEquals(num(exp.get("score")), got.getDouble("score"), 1e-9, what + " score");
    for (int k = 0; k < 4; k++) {
      assertEquals(exp.get("counts").get(k).asLong(), ((Number) got.getList("counts").get(k)).longValue(), what + " counts");
      assertEquals(exp.get("totals").get(k).asLong(), ((Number) got.getList("totals").get(k)).longValue(), what + " totals");
      assertEquals(num(exp.get("precisions").get(k)), (Double) got.getList("precisions").get(k), 1e-9, what + " precisions");
    }
    assertEquals(num(exp.get("bp")), got.getDouble("bp"), 1e-9, what + " bp");
    assertEquals(num(exp.get("ratio")), got.getDouble("ratio"), 1e-9, what + " ratio");
    assertEquals(exp.get("sys_len").asLong(), got.getLong("sys_len"), what + " sys_len");
    assertEquals(exp.get("ref_len").asLong(), got.getLong("ref_len"), what + " ref_len");
    if (exp.has("formatted")) {
      assertEquals(exp.get("formatted").asText(), got.getString("formatted"), what + " formatted");
    }
    if (exp.has("signature")) {
      assertEquals(exp.get("signature").asText(), got.getString("signature"), what + " signature");
    }
  }

  static double num(JsonNode n) {
    return ReferenceData.num(n);
  }

  @ParameterizedTest
  @ValueSource(strings = {"licenses_mixed", "multi_ref_variable", "multiline_summaries", "some_empty", "identical"})
  void corpusBleuDefaultsEqualSacrebleu(String kase) {
    List<TextExample> data = ReferenceData.text(kase);
    JsonNode exp = ReferenceData.expected("text/" + kase).get("sacrebleu").get("corpus_bleu");
    assertBleu(exp, corpus(new Bleu(), data), kase);
    assertBleu(exp, shuffledAndMerged(new Bleu(), data), kase + " shuffled");
  }

  @ParameterizedTest
  @ValueSource(strings = {"licenses_mixed", "multi_ref_variable", "multiline_summaries", "some_empty", "identical"})
  void corpusBleuVariantsEqualSacrebleu(String kase) {
    List<TextExample> data = ReferenceData.text(kase);
    JsonNode results = ReferenceData.expected("text/" + kase).get("sacrebleu").get("corpus_bleu_variants").get("results");
    for (Map.Entry<String, JsonNode> e : (Iterable<Map.Entry<String, JsonNode>>) results::fields) {
      String[] kv = e.getKey().split("=");
      Bleu.Options.Builder b = Bleu.Options.builder();
      switch (kv[0]) {
        case "lowercase":
          b.lowercase(true);
          break;
        case "smooth_method":
          b.smoothMethod(kv[1]);
          break;
        case "effective_order":
          b.effectiveOrder(true);
          break;
        case "tokenize":
          b.tokenize(kv[1]);
          break;
        default:
          throw new AssertionError("unknown variant " + e.getKey());
      }
      assertBleu(e.getValue(), corpus(new Bleu(b.build()), data), kase + " " + e.getKey());
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"licenses_mixed", "multi_ref_variable", "multiline_summaries", "some_empty", "identical"})
  void sentenceBleuAndChrfEqualSacrebleu(String kase) {
    List<TextExample> data = ReferenceData.text(kase);
    JsonNode sb = ReferenceData.expected("text/" + kase).get("sacrebleu");
    Bleu bleu = new Bleu();
    Chrf chrf = new Chrf();
    for (int i = 0; i < data.size(); i++) {
      TextExample e = data.get(i);
      JsonNode exp = sb.get("sentence_bleu").get(i);
      assertBleu(exp, bleu.sentenceScore(e.prediction(), e.references()), kase + " sentence " + i);
      assertEquals(num(sb.get("sentence_chrf").get(i)), chrf.sentenceScore(e.prediction(), e.references()).getDouble("score"),
          1e-9, kase + " sentence chrF " + i);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"licenses_mixed", "multi_ref_variable", "multiline_summaries", "some_empty", "identical"})
  void chrfAndChrfPlusPlusEqualSacrebleu(String kase) {
    List<TextExample> data = ReferenceData.text(kase);
    JsonNode sb = ReferenceData.expected("text/" + kase).get("sacrebleu");
    MetricResult chrf = corpus(new Chrf(), data);
    assertEquals(num(sb.get("corpus_chrf").get("score")), chrf.getDouble("score"), 1e-9);
    assertEquals(sb.get("corpus_chrf").get("formatted").asText(), chrf.getString("formatted"));
    assertEquals(sb.get("corpus_chrf").get("signature").asText(), chrf.getString("signature"));
    MetricResult pp = corpus(Chrf.chrfPlusPlus(), data);
    assertEquals(num(sb.get("corpus_chrf++").get("score")), pp.getDouble("score"), 1e-9);
    assertEquals(sb.get("corpus_chrf++").get("formatted").asText(), pp.getString("formatted"));
    assertEquals(sb.get("corpus_chrf++").get("signature").asText(), pp.getString("signature"));
    assertEquals(pp.getDouble("score"), shuffledAndMerged(Chrf.chrfPlusPlus(), data).getDouble("score"), 1e-12);
  }

  @ParameterizedTest
  @ValueSource(strings = {"licenses_mixed", "multi_ref_variable", "multiline_summaries", "some_empty", "identical"})
  void huggingFaceBleuAndExactMatch(String kase) {
    List<TextExample> data = ReferenceData.text(kase);
    JsonNode hf = ReferenceData.expected("text/" + kase).get("hf_evaluate");
    for (String variant : List.of("bleu", "bleu_smooth=True")) {
      JsonNode exp = hf.get(variant).get("result");
      MetricResult got = corpus(new HuggingFaceBleu(variant.contains("smooth")), data);
      assertEquals(num(exp.get("bleu")), got.getDouble("bleu"), 1e-11, variant);
      for (int k = 0; k < 4; k++) {
        assertEquals(num(exp.get("precisions").get(k)), (Double) got.getList("precisions").get(k), 1e-11, variant);
      }
      assertEquals(num(exp.get("brevity_penalty")), got.getDouble("brevity_penalty"), 1e-11);
      assertEquals(num(exp.get("length_ratio")), got.getDouble("length_ratio"), 1e-11);
      assertEquals(exp.get("translation_length").asLong(), got.getLong("translation_length"));
      assertEquals(exp.get("reference_length").asLong(), got.getLong("reference_length"));
    }
    JsonNode em = hf.get("exact_match").get("result");
    if (em.has("exact_match")) {
      assertEquals(num(em.get("exact_match")), corpus(new ExactMatch(), data).getDouble("exact_match"), 1e-12);
    }
  }
}
