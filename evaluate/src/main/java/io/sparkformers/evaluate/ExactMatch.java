package io.sparkformers.evaluate;

import java.io.Serializable;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Hugging Face {@code exact_match}: the share of predictions equal to their reference after optional removal
 * of regexes, lower-casing, removal of ASCII punctuation and of digits (in that order). With several
 * references a prediction counts if it equals any of them (Hugging Face takes exactly one).
 */
public final class ExactMatch implements TextMetric<ExactMatch.Stats> {
  private static final long serialVersionUID = 1L;
  private static final String PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
  private final List<String> regexesToIgnore;
  private final boolean ignoreCase;
  private final boolean ignorePunctuation;
  private final boolean ignoreNumbers;
  private transient List<Pattern> patterns;

  public ExactMatch() {
    this(List.of(), false, false, false);
  }

  public ExactMatch(List<String> regexesToIgnore, boolean ignoreCase, boolean ignorePunctuation, boolean ignoreNumbers) {
    this.regexesToIgnore = List.copyOf(regexesToIgnore);
    this.ignoreCase = ignoreCase;
    this.ignorePunctuation = ignorePunctuation;
    this.ignoreNumbers = ignoreNumbers;
  }

  @Override
  public String name() {
    return "exact_match";
  }

  @Override
  public Stats newState() {
    return new Stats();
  }

  String normalise(String s) {
    if (patterns == null) {
      patterns = regexesToIgnore.stream().map(Pattern::compile).toList();
    }
    for (Pattern p : patterns) {
      s = p.matcher(s).replaceAll("");
    }
    if (ignoreCase) {
      s = io.sparkformers.evaluate.internal.PythonText.lower(s);
    }
    if (ignorePunctuation || ignoreNumbers) {
      StringBuilder b = new StringBuilder(s.length());
      for (int i = 0; i < s.length(); i++) {
        char c = s.charAt(i);
        if (ignorePunctuation && PUNCTUATION.indexOf(c) >= 0) {
          continue;
        }
        if (ignoreNumbers && c >= '0' && c <= '9') {
          continue;
        }
        b.append(c);
      }
      s = b.toString();
    }
    return s;
  }

  @Override
  public void add(Stats s, String prediction, List<String> references) {
    List<String> refs = TextMetric.checkedReferences(prediction, references);
    String p = normalise(prediction);
    for (String r : refs) {
      if (p.equals(normalise(r))) {
        s.matches++;
        break;
      }
    }
    s.count++;
  }

  @Override
  public Stats merge(Stats into, Stats o) {
    into.matches += o.matches;
    into.count += o.count;
    return into;
  }

  /** exact_match in 0..1; NaN for no examples (numpy's mean of nothing). */
  @Override
  public MetricResult compute(Stats s) {
    return MetricResult.builder().put("exact_match", s.count == 0 ? Double.NaN : (double) s.matches / s.count).build();
  }

  public static final class Stats implements Serializable {
    private static final long serialVersionUID = 1L;
    long matches;
    long count;
  }
}
