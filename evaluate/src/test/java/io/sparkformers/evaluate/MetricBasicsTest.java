package io.sparkformers.evaluate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Exact match options, perplexity, zero_division=nan, and the local API's bad-input errors. */
class MetricBasicsTest {

  static double exactMatch(ExactMatch m, List<String> preds, List<String> refs) {
    ExactMatch.Stats s = m.newState();
    for (int i = 0; i < preds.size(); i++) {
      m.add(s, preds.get(i), List.of(refs.get(i)));
    }
    return m.compute(s).getDouble("exact_match");
  }

  @Test
  void exactMatchOptionsAsHuggingFaceDocumentsThem() {
    List<String> refs = List.of("the cat", "theater", "YELLING", "agent007");
    List<String> preds = List.of("cat?", "theater", "yelling", "agent");
    assertEquals(0.25, exactMatch(new ExactMatch(), preds, refs));
    assertEquals(0.5, exactMatch(new ExactMatch(List.of("the ", "yell"), true, true, false), preds, refs));
    assertEquals(0.75, exactMatch(new ExactMatch(List.of("the ", "yell", "YELL"), true, true, false), preds, refs));
    assertEquals(1.0, exactMatch(new ExactMatch(List.of("the ", "yell", "YELL"), true, true, true), preds, refs));
  }

  @Test
  void perplexityFromTokenLogLikelihoods() {
    Perplexity p = new Perplexity();
    Perplexity.Stats a = p.newState();
    Perplexity.Stats b = p.newState();
    p.add(a, new double[] {Math.log(0.5), Math.log(0.25)});
    p.add(b, new double[] {Math.log(0.5)});
    MetricResult r = p.compute(p.merge(a, b));
    assertEquals(Math.cbrt(16), r.getDouble("perplexity"), 1e-12);
    assertEquals((Math.sqrt(8) + 2) / 2, r.getDouble("mean_perplexity"), 1e-12);
    assertEquals(3, r.getLong("tokens"));
    assertThrows(InvalidInputException.class, () -> p.add(a, new double[] {0.5}));
    assertThrows(MetricException.class, () -> p.compute(p.newState()));
  }

  @Test
  void zeroDivisionNanMarksIllDefinedValuesAndAveragesSkipThem() {
    Classification c = new Classification(Classification.Options.builder().average("none").zeroDivision("nan").build());
    Classification.Stats s = c.newState();
    c.add(s, 0, 0);
    c.add(s, 0, 1);
    MetricResult none = c.compute(s);
    List<Double> precision = none.getList("precision");
    assertEquals(0.5, precision.get(0));
    assertTrue(Double.isNaN(precision.get(1)));
    Classification macro = new Classification(Classification.Options.builder().average("macro").zeroDivision("nan").build());
    assertEquals(0.5, macro.compute(s).getDouble("precision"));
    assertEquals(0.5, macro.compute(s).getDouble("recall"));
  }

  @Test
  void badTextInputIsRejectedWithWhatWasExpected() {
    Bleu bleu = new Bleu();
    Bleu.Stats s = bleu.newState();
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> bleu.add(s, null, List.of("a")));
    assertEquals("prediction is null; expected a string", e.getMessage());
    e = assertThrows(InvalidInputException.class, () -> bleu.add(s, "a", null));
    assertEquals("references is null; expected a list of strings", e.getMessage());
    e = assertThrows(InvalidInputException.class, () -> bleu.add(s, "a", Arrays.asList(null, null)));
    assertEquals("no references for this prediction; expected at least one string", e.getMessage());
    // A null among references is sacrebleu's padding for a varying number of references: dropped.
    bleu.add(s, "the cat sat", Arrays.asList(null, "the cat sat"));
    bleu.add(s, "a dog", List.of("a dog", "one dog"));
    MetricResult r = bleu.compute(s);
    assertEquals("nrefs:var|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0", r.getString("signature"));
    assertEquals(5, r.getLong("sys_len"));
    assertThrows(MetricException.class, () -> bleu.compute(bleu.newState()));
    assertThrows(IllegalArgumentException.class, () -> Bleu.Options.builder().tokenize("moses"));
    assertThrows(IllegalArgumentException.class, () -> new Rouge(List.of("rougeW"), false, false));
  }

  @Test
  void pythonFloatFormattingRoundsTheBinaryValueHalfToEven() {
    assertEquals("0.12", io.sparkformers.evaluate.internal.PythonText.fixed(0.125, 2));
    assertEquals("1.00", io.sparkformers.evaluate.internal.PythonText.fixed(1.005, 2));
    assertEquals("2.67", io.sparkformers.evaluate.internal.PythonText.fixed(2.675, 2));
    assertEquals("0.38", io.sparkformers.evaluate.internal.PythonText.fixed(0.375, 2)); // values printed by Python 3.11
    assertEquals("-0.00", io.sparkformers.evaluate.internal.PythonText.fixed(-0.001, 2));
  }
}
