package io.sparkformers.evaluate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.sparkformers.evaluate.ReferenceData.LabelExample;
import io.sparkformers.evaluate.ReferenceData.TextExample;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The one-call API against the reference tools' values (sacrebleu, rouge-score, scikit-learn, Hugging Face
 * evaluate) and against the metric classes it calls, by typed method and by {@code load(name)}; bad inputs.
 */
class MetricsTest {

  static List<String> predictions(List<TextExample> data) {
    return data.stream().map(TextExample::prediction).toList();
  }

  static List<List<String>> references(List<TextExample> data) {
    List<List<String>> out = new ArrayList<>();
    data.forEach(e -> out.add(e.references())); // may hold nulls: sacrebleu's padding
    return out;
  }

  static double num(JsonNode n) {
    return ReferenceData.num(n);
  }

  @ParameterizedTest
  @ValueSource(strings = {"licenses_mixed", "multi_ref_variable", "multiline_summaries", "some_empty", "identical"})
  void sacrebleuInOneCallEqualsSacrebleuAndTheMetricClass(String kase) {
    List<TextExample> data = ReferenceData.text(kase);
    JsonNode sb = ReferenceData.expected("text/" + kase).get("sacrebleu");
    BleuScore bleu = Metrics.sacrebleu(predictions(data), references(data));
    JsonNode exp = sb.get("corpus_bleu");
    assertEquals(num(exp.get("score")), bleu.score(), 1e-9);
    assertEquals(exp.get("sys_len").asLong(), bleu.sysLen());
    assertEquals(exp.get("ref_len").asLong(), bleu.refLen());
    assertEquals(num(exp.get("bp")), bleu.bp(), 1e-9);
    for (int k = 0; k < 4; k++) {
      assertEquals(exp.get("counts").get(k).asDouble(), bleu.counts().get(k));
      assertEquals(exp.get("totals").get(k).asDouble(), bleu.totals().get(k));
      assertEquals(num(exp.get("precisions").get(k)), bleu.precisions().get(k), 1e-9);
    }
    assertEquals(exp.get("formatted").asText(), bleu.formatted());
    assertEquals(exp.get("signature").asText(), bleu.signature());
    SacrebleuReferenceTest.assertBleu(exp, bleu.toResult(), kase + " as MetricResult");
    assertEquals(SacrebleuReferenceTest.corpus(new Bleu(), data), bleu.toResult());
    assertEquals(bleu, Metrics.load("sacrebleu").compute(predictions(data), references(data)));

    Bleu.Options lowercase = Bleu.Options.builder().lowercase(true).build();
    BleuScore lc = Metrics.sacrebleu(predictions(data), references(data), lowercase);
    SacrebleuReferenceTest.assertBleu(sb.get("corpus_bleu_variants").get("results").get("lowercase=True"),
        lc.toResult(), kase + " lowercase");
  }

  @ParameterizedTest
  @ValueSource(strings = {"licenses_mixed", "multi_ref_variable", "multiline_summaries", "some_empty", "identical"})
  void huggingFaceBleuChrfAndExactMatchInOneCall(String kase) {
    List<TextExample> data = ReferenceData.text(kase);
    JsonNode all = ReferenceData.expected("text/" + kase);
    JsonNode hf = all.get("hf_evaluate");
    for (boolean smooth : new boolean[] {false, true}) {
      JsonNode exp = hf.get(smooth ? "bleu_smooth=True" : "bleu").get("result");
      HuggingFaceBleuScore b = Metrics.bleu(predictions(data), references(data), smooth);
      assertEquals(num(exp.get("bleu")), b.bleu(), 1e-11);
      for (int k = 0; k < 4; k++) {
        assertEquals(num(exp.get("precisions").get(k)), b.precisions().get(k), 1e-11);
      }
      assertEquals(num(exp.get("brevity_penalty")), b.brevityPenalty(), 1e-11);
      assertEquals(num(exp.get("length_ratio")), b.lengthRatio(), 1e-11);
      assertEquals(exp.get("translation_length").asLong(), b.translationLength());
      assertEquals(exp.get("reference_length").asLong(), b.referenceLength());
      assertEquals(SacrebleuReferenceTest.corpus(new HuggingFaceBleu(smooth), data), b.toResult());
    }
    assertEquals(Metrics.bleu(predictions(data), references(data)),
        Metrics.load("bleu").compute(predictions(data), references(data)));

    JsonNode sb = all.get("sacrebleu");
    ChrfScore chrf = Metrics.chrf(predictions(data), references(data));
    assertEquals(num(sb.get("corpus_chrf").get("score")), chrf.score(), 1e-9);
    assertEquals(sb.get("corpus_chrf").get("signature").asText(), chrf.signature());
    assertEquals(6, chrf.charOrder());
    assertEquals(0, chrf.wordOrder());
    assertEquals(2, chrf.beta());
    ChrfScore pp = Metrics.chrf(predictions(data), references(data), Chrf.chrfPlusPlus());
    assertEquals(num(sb.get("corpus_chrf++").get("score")), pp.score(), 1e-9);
    assertEquals(sb.get("corpus_chrf++").get("formatted").asText(), pp.formatted());
    assertEquals(SacrebleuReferenceTest.corpus(Chrf.chrfPlusPlus(), data), pp.toResult());
    assertEquals(chrf, Metrics.load("chrf").compute(predictions(data), references(data)));

    JsonNode em = hf.get("exact_match").get("result");
    if (em.has("exact_match")) {
      ExactMatchScore got = Metrics.exactMatch(predictions(data), references(data));
      assertEquals(num(em.get("exact_match")), got.exactMatch(), 1e-12);
      assertEquals(got, Metrics.load("exact_match").compute(predictions(data), references(data)));
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"licenses_mixed", "multi_ref_variable", "multiline_summaries", "some_empty", "identical"})
  void rougeInOneCallEqualsRougeScoreMeans(String kase) {
    List<TextExample> data = ReferenceData.text(kase);
    for (boolean stem : new boolean[] {false, true}) {
      JsonNode mean = ReferenceData.expected("text/" + kase).get("rouge_score")
          .get("use_stemmer=" + (stem ? "True" : "False")).get("mean");
      Rouge rouge = new Rouge(RougeReferenceTest.TYPES, stem, false);
      RougeScores got = Metrics.rouge(predictions(data), references(data), rouge);
      assertEquals(RougeReferenceTest.TYPES, List.copyOf(got.byType().keySet()));
      RougeScore[] typed = {got.rouge1(), got.rouge2(), got.rougeL(), got.rougeLsum()};
      for (int t = 0; t < 4; t++) {
        JsonNode e = mean.get(RougeReferenceTest.TYPES.get(t));
        assertEquals(num(e.get("precision")), typed[t].precision(), 1e-12, kase + " " + t);
        assertEquals(num(e.get("recall")), typed[t].recall(), 1e-12, kase + " " + t);
        assertEquals(num(e.get("fmeasure")), typed[t].fmeasure(), 1e-12, kase + " " + t);
      }
      assertEquals(SacrebleuReferenceTest.corpus(rouge, data), got.toResult());
      if (!stem) {
        assertEquals(got, Metrics.load("rouge").compute(predictions(data), references(data)));
      }
    }
    RougeScores onlyL = Metrics.rouge(predictions(data), references(data), new Rouge(List.of("rougeL"), false, false));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, onlyL::rouge1);
    assertEquals("no ROUGE type 'rouge1' in this result; it has [rougeL]", e.getMessage());
  }

  @ParameterizedTest
  @ValueSource(strings = {"binary_int", "multiclass_string", "label_only_in_predictions", "empty"})
  void classificationInOneCallEqualsScikitLearnInEveryMode(String kase) {
    List<LabelExample> data = ReferenceData.labels(kase);
    List<Object> preds = data.stream().map(LabelExample::prediction).toList();
    List<Object> refs = data.stream().map(LabelExample::reference).toList();
    JsonNode exp = ReferenceData.expected("f1/" + kase);
    int checked = 0;
    for (Map.Entry<String, JsonNode> e : (Iterable<Map.Entry<String, JsonNode>>) exp.get("scores")::fields) {
      Classification.Options.Builder b = Classification.Options.builder();
      String average = "binary";
      for (String kv : e.getKey().split(",")) {
        String[] p = kv.split("=");
        switch (p[0]) {
          case "average" -> {
            average = p[1].equals("None") ? "none" : p[1];
            b.average(average);
          }
          case "zero_division" -> b.zeroDivision(p[1]);
          case "pos_label" -> b.posLabel(p[1].matches("-?[0-9]+") ? (Object) Long.parseLong(p[1]) : p[1]);
          default -> throw new AssertionError(kv);
        }
      }
      Classification.Options options = b.build();
      JsonNode want = e.getValue();
      if (want.get("f1_score").has("error")) {
        MetricException err = assertThrows(MetricException.class,
            () -> Metrics.classification(preds, refs, options), e.getKey());
        assertEquals(want.get("f1_score").get("error").asText(), "ValueError: " + err.getMessage());
      } else if (average.equals("none")) {
        PerLabelScores got = Metrics.perLabel(preds, refs, options);
        assertEquals(exp.get("labels").size(), got.labels().size());
        for (int i = 0; i < got.labels().size(); i++) {
          assertEquals(ReferenceData.value(exp.get("labels").get(i)), got.labels().get(i));
          assertEquals(num(want.get("precision_score").get("value").get(i)), got.precision().get(i), 1e-12);
          assertEquals(num(want.get("recall_score").get("value").get(i)), got.recall().get(i), 1e-12);
          assertEquals(num(want.get("f1_score").get("value").get(i)), got.f1().get(i), 1e-12);
        }
        assertEquals(new Classification(options).compute(SklearnReferenceTest.stats(new Classification(options), data)),
            got.toResult());
      } else {
        ClassificationScores got = Metrics.classification(preds, refs, options);
        assertEquals(average, got.average());
        assertEquals(num(want.get("precision_score").get("value")), got.precision(), 1e-12, e.getKey());
        assertEquals(num(want.get("recall_score").get("value")), got.recall(), 1e-12, e.getKey());
        assertEquals(num(want.get("f1_score").get("value")), got.f1(), 1e-12, e.getKey());
        assertEquals(num(exp.get("accuracy").get("value")), got.accuracy(), 1e-12);
        assertEquals(new Classification(options).compute(SklearnReferenceTest.stats(new Classification(options), data)),
            got.toResult());
      }
      checked++;
    }
    assertTrue(checked >= 15);
    AccuracyScore accuracy = Metrics.accuracy(preds, refs);
    assertEquals(num(exp.get("accuracy").get("value")), accuracy.accuracy(), 1e-12);
    assertEquals(accuracy, Metrics.load("accuracy").compute(preds, refs));
  }

  @Test
  void loadByHuggingFaceNameGivesItsKeysAndTypes() {
    List<String> preds = List.of("the cat sat on the mat", "a dog barked");
    List<String> oneRefEach = List.of("the cat sat on a mat", "a dog barked loudly");
    List<List<String>> refLists = List.of(List.of("the cat sat on a mat"), List.of("a dog barked loudly"));
    // One string per prediction is one reference, as Hugging Face's bleu and rouge accept.
    MetricScore bleu = Metrics.load("bleu").compute(preds, oneRefEach);
    assertEquals(Metrics.bleu(preds, refLists), bleu);
    assertEquals(List.of("bleu", "precisions", "brevity_penalty", "length_ratio", "translation_length",
        "reference_length"), List.copyOf(bleu.asMap().keySet()));
    assertEquals(List.of("score", "counts", "totals", "precisions", "bp", "ratio", "sys_len", "ref_len", "formatted",
        "signature"), List.copyOf(Metrics.load("sacrebleu").compute(preds, refLists).asMap().keySet()));
    MetricScore rouge = Metrics.load("rouge").compute(preds, oneRefEach);
    assertInstanceOf(RougeScores.class, rouge);
    @SuppressWarnings("unchecked")
    Map<String, Object> rouge1 = (Map<String, Object>) rouge.asMap().get("rouge1");
    assertEquals(List.of("precision", "recall", "fmeasure"), List.copyOf(rouge1.keySet()));
    assertEquals(((RougeScores) rouge).rouge1().fmeasure(), (double) rouge1.get("fmeasure"));
    assertTrue(rouge.toJson().startsWith("{\"rouge1\": {\"precision\": "), rouge.toJson());

    List<Integer> predicted = List.of(1, 0, 1, 1);
    List<Integer> labels = List.of(1, 0, 0, 1);
    ClassificationScores f1 = (ClassificationScores) Metrics.load("f1").compute(predicted, labels);
    assertEquals("binary", f1.average());
    assertEquals(0.8, f1.f1(), 1e-15); // sklearn: f1_score([1,0,0,1], [1,0,1,1]) == 0.8
    assertEquals(2.0 / 3, f1.precision(), 1e-15);
    assertEquals(1.0, f1.recall());
    assertEquals(0.75, f1.accuracy());
    assertEquals(f1, Metrics.load("precision").compute(predicted, labels));
    assertEquals(Map.of("accuracy", 0.75), Metrics.load("accuracy").compute(predicted, labels).asMap());
    assertEquals("{\"accuracy\": 0.75}", Metrics.load("accuracy").compute(predicted, labels).toJson());

    // Accuracy takes any number of labels; binary f1 over three is scikit-learn's error.
    List<String> three = List.of("a", "b", "c");
    assertEquals(1.0, ((AccuracyScore) Metrics.load("accuracy").compute(three, three)).accuracy());
    MetricException err = assertThrows(MetricException.class, () -> Metrics.load("f1").compute(three, three));
    assertTrue(err.getMessage().startsWith("Target is multiclass but average='binary'"), err.getMessage());

    PerplexityScore ppl = (PerplexityScore) Metrics.load("perplexity")
        .compute(List.of(new double[] {Math.log(0.5), Math.log(0.25)}, List.of(Math.log(0.5))));
    assertEquals(Math.cbrt(16), ppl.perplexity(), 1e-12);
    assertEquals((Math.sqrt(8) + 2) / 2, ppl.meanPerplexity(), 1e-12);
    assertEquals(3, ppl.tokens());
    assertEquals(2, ppl.sequences());
    assertEquals(ppl, Metrics.perplexity(List.of(new double[] {Math.log(0.5), Math.log(0.25)},
        new double[] {Math.log(0.5)})));
  }

  @Test
  void unknownNameSuggestsTheNearestKnownOne() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Metrics.load("sacrebleau"));
    assertEquals("unknown metric 'sacrebleau'; did you mean 'sacrebleu'?; known: bleu, sacrebleu, chrf, rouge, "
        + "exact_match, accuracy, f1, precision, recall, perplexity", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Metrics.load("exact-match"));
    assertTrue(e.getMessage().contains("did you mean 'exact_match'?"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Metrics.load("rougeL"));
    assertTrue(e.getMessage().contains("did you mean 'rouge'?"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Metrics.load("meteor"));
    assertTrue(e.getMessage().startsWith("unknown metric 'meteor'; known: bleu,"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Metrics.load(null));
  }

  @Test
  void badInputsNameTheExampleAndWhatWasExpected() {
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> Metrics.sacrebleu(List.of("a b", "c d", "e"), List.of(List.of("a b"), List.of("c d"))));
    assertEquals("Mismatch in the number of predictions (3) and references (2)", e.getMessage());
    e = assertThrows(InvalidInputException.class, () -> Metrics.load("accuracy").compute(List.of(1, 2), List.of(1)));
    assertEquals("Mismatch in the number of predictions (2) and references (1)", e.getMessage());
    e = assertThrows(InvalidInputException.class, () -> Metrics.rouge(null, List.of()));
    assertEquals("predictions is null; expected a list", e.getMessage());
    e = assertThrows(InvalidInputException.class,
        () -> Metrics.chrf(Arrays.asList("a", null), List.of(List.of("a"), List.of("b"))));
    assertEquals("example 1: prediction is null; expected a string", e.getMessage());
    e = assertThrows(InvalidInputException.class,
        () -> Metrics.sacrebleu(List.of("a", "b"), List.of(List.of("a"), List.of())));
    assertEquals("example 1: no references for this prediction; expected at least one string", e.getMessage());
    e = assertThrows(InvalidInputException.class,
        () -> Metrics.load("bleu").compute(List.of("a", 7), List.of("a", "b")));
    assertEquals("example 1: prediction has type Integer; expected a string", e.getMessage());
    e = assertThrows(InvalidInputException.class, () -> Metrics.load("rouge").compute(List.of("a"), List.of(3)));
    assertEquals("example 0: references has type Integer; expected a list of strings or a string", e.getMessage());
    e = assertThrows(InvalidInputException.class, () -> Metrics.accuracy(List.of(1, 2), List.of(1, "2")));
    assertTrue(e.getMessage().startsWith("example 1: Mix of label input types"), e.getMessage());
    e = assertThrows(InvalidInputException.class, () -> Metrics.accuracy(List.of(0.5), List.of(1)));
    assertTrue(e.getMessage().startsWith("example 0: prediction 0.5 is not a class label"), e.getMessage());
    e = assertThrows(InvalidInputException.class,
        () -> Metrics.perplexity(List.of(new double[] {-1}, new double[] {-0.5, 0.25})));
    assertEquals("sequence 1: token 1 has log-likelihood 0.25; expected a number <= 0", e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Metrics.load("perplexity").compute(List.of(), List.of()));
    assertThrows(IllegalArgumentException.class, () -> Metrics.load("bleu").compute(List.of()));
    assertThrows(IllegalArgumentException.class, () -> Metrics.classification(List.of(1), List.of(1),
        Classification.Options.builder().average("none").build()));
    assertThrows(IllegalArgumentException.class, () -> Metrics.perLabel(List.of(1), List.of(1),
        Classification.Options.builder().average("macro").build()));
  }

  @Test
  void emptyInputIsWhatTheReferenceToolGives() {
    List<String> none = List.of();
    List<List<String>> noRefs = List.of();
    // sacrebleu and Hugging Face's bleu raise on an empty corpus; so do we, saying so.
    MetricException e = assertThrows(MetricException.class, () -> Metrics.sacrebleu(none, noRefs));
    assertTrue(e.getMessage().startsWith("BLEU of an empty corpus"), e.getMessage());
    e = assertThrows(MetricException.class, () -> Metrics.bleu(none, noRefs));
    assertTrue(e.getMessage().contains("ZeroDivisionError"), e.getMessage());
    e = assertThrows(MetricException.class, () -> Metrics.chrf(none, noRefs));
    assertTrue(e.getMessage().startsWith("chrF of an empty corpus"), e.getMessage());
    e = assertThrows(MetricException.class, () -> Metrics.perplexity(List.of()));
    assertEquals("perplexity of no tokens", e.getMessage());
    // numpy's mean of nothing.
    assertTrue(Double.isNaN(Metrics.exactMatch(none, noRefs).exactMatch()));
    assertTrue(Double.isNaN(Metrics.accuracy(List.of(), List.of()).accuracy()));
    assertTrue(Double.isNaN(Metrics.rouge(none, noRefs).rougeL().fmeasure()));
    // scikit-learn's zero_division value (the "empty" reference case holds every mode).
    ClassificationScores f1 = Metrics.classification(List.of(), List.of(), Classification.Options.builder().build());
    assertEquals(0.0, f1.f1());
  }

  @Test
  void accuracyOfClassIdsAsTheTrainerGivesThem() {
    AccuracyScore a = Metrics.accuracy(new long[] {1, 2, 3, 4}, new long[] {1, 2, 0, 4});
    assertEquals(0.75, a.accuracy());
    assertEquals(a, Metrics.accuracy(List.of(1L, 2L, 3L, 4L), List.of(1L, 2L, 0L, 4L)));
  }
}
