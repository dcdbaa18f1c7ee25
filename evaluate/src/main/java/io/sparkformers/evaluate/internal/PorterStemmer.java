package io.sparkformers.evaluate.internal;

import java.util.Map;

/**
 * nltk 3.8's {@code PorterStemmer()} in its default mode, NLTK_EXTENSIONS: the irregular-forms table, words of
 * one or two letters left alone, 'ies'/'ied' special cases, the 'alli' and 'logi' rules, the 'fulli' rule and
 * the two-letter *o condition. Rules are tried in the order nltk lists them; the first rule whose suffix
 * matches decides, whether or not its condition holds (nltk's {@code _apply_rule_list}).
 */
public final class PorterStemmer {
  private static final Map<String, String> POOL = Map.ofEntries(
      Map.entry("sky", "sky"), Map.entry("skies", "sky"), Map.entry("dying", "die"), Map.entry("lying", "lie"),
      Map.entry("tying", "tie"), Map.entry("news", "news"), Map.entry("innings", "inning"),
      Map.entry("inning", "inning"), Map.entry("outings", "outing"), Map.entry("outing", "outing"),
      Map.entry("cannings", "canning"), Map.entry("canning", "canning"), Map.entry("howe", "howe"),
      Map.entry("proceed", "proceed"), Map.entry("exceed", "exceed"), Map.entry("succeed", "succeed"));

  private PorterStemmer() {}

  /** {@code PorterStemmer().stem(word)} (which lower-cases first). */
  public static String stem(String word) {
    String stem = PythonText.lower(word);
    if (POOL.containsKey(word)) {
      return POOL.get(stem);
    }
    if (word.length() <= 2) {
      return stem;
    }
    stem = step1a(stem);
    stem = step1b(stem);
    stem = step1c(stem);
    stem = step2(stem);
    stem = step3(stem);
    stem = step4(stem);
    stem = step5a(stem);
    stem = step5b(stem);
    return stem;
  }

  private static boolean isConsonant(String w, int i) {
    char c = w.charAt(i);
    if (c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u') {
      return false;
    }
    if (c == 'y') {
      return i == 0 || !isConsonant(w, i - 1);
    }
    return true;
  }

  /** The number of "vc" in the consonant/vowel pattern of the stem. */
  static int measure(String stem) {
    int m = 0;
    boolean prevVowel = false;
    for (int i = 0; i < stem.length(); i++) {
      boolean c = isConsonant(stem, i);
      if (c && prevVowel) {
        m++;
      }
      prevVowel = !c;
    }
    return m;
  }

  private static boolean positive(String stem) {
    return measure(stem) > 0;
  }

  private static boolean containsVowel(String stem) {
    for (int i = 0; i < stem.length(); i++) {
      if (!isConsonant(stem, i)) {
        return true;
      }
    }
    return false;
  }

  private static boolean endsDoubleConsonant(String w) {
    int n = w.length();
    return n >= 2 && w.charAt(n - 1) == w.charAt(n - 2) && isConsonant(w, n - 1);
  }

  private static boolean endsCvc(String w) {
    int n = w.length();
    if (n >= 3 && isConsonant(w, n - 3) && !isConsonant(w, n - 2) && isConsonant(w, n - 1)) {
      char c = w.charAt(n - 1);
      if (c != 'w' && c != 'x' && c != 'y') {
        return true;
      }
    }
    return n == 2 && !isConsonant(w, 0) && isConsonant(w, 1);
  }

  private static String cut(String w, String suffix) {
    return w.substring(0, w.length() - suffix.length());
  }

  private static String step1a(String w) {
    if (w.endsWith("ies") && w.length() == 4) {
      return cut(w, "ies") + "ie";
    }
    if (w.endsWith("sses")) {
      return cut(w, "sses") + "ss";
    }
    if (w.endsWith("ies")) {
      return cut(w, "ies") + "i";
    }
    if (w.endsWith("ss")) {
      return w;
    }
    if (w.endsWith("s")) {
      return cut(w, "s");
    }
    return w;
  }

  private static String step1b(String w) {
    if (w.endsWith("ied")) {
      return w.length() == 4 ? cut(w, "ied") + "ie" : cut(w, "ied") + "i";
    }
    if (w.endsWith("eed")) {
      String stem = cut(w, "eed");
      return measure(stem) > 0 ? stem + "ee" : w;
    }
    String s = null;
    if (w.endsWith("ed") && containsVowel(cut(w, "ed"))) {
      s = cut(w, "ed");
    } else if (w.endsWith("ing") && containsVowel(cut(w, "ing"))) {
      s = cut(w, "ing");
    }
    if (s == null) {
      return w;
    }
    if (s.endsWith("at")) {
      return s + "e";
    }
    if (s.endsWith("bl")) {
      return s + "e";
    }
    if (s.endsWith("iz")) {
      return s + "e";
    }
    if (endsDoubleConsonant(s)) {
      char last = s.charAt(s.length() - 1);
      if (last != 'l' && last != 's' && last != 'z') {
        return s.substring(0, s.length() - 2) + last;
      }
      return s;
    }
    // ("", "e", m == 1 and *o): the empty suffix always matches.
    if (measure(s) == 1 && endsCvc(s)) {
      return s + "e";
    }
    return s;
  }

  private static String step1c(String w) {
    if (w.endsWith("y")) {
      String stem = cut(w, "y");
      if (stem.length() > 1 && isConsonant(stem, stem.length() - 1)) {
        return stem + "i";
      }
    }
    return w;
  }

  private static final String[][] STEP2 = {
    {"ational", "ate"}, {"tional", "tion"}, {"enci", "ence"}, {"anci", "ance"}, {"izer", "ize"},
    {"bli", "ble"}, {"alli", "al"}, {"entli", "ent"}, {"eli", "e"}, {"ousli", "ous"}, {"ization", "ize"},
    {"ation", "ate"}, {"ator", "ate"}, {"alism", "al"}, {"iveness", "ive"}, {"fulness", "ful"},
    {"ousness", "ous"}, {"aliti", "al"}, {"iviti", "ive"}, {"biliti", "ble"}, {"fulli", "ful"}
  };

  private static String step2(String w) {
    if (w.endsWith("alli") && positive(cut(w, "alli"))) {
      return step2(cut(w, "alli") + "al");
    }
    for (String[] rule : STEP2) {
      if (w.endsWith(rule[0])) {
        String stem = cut(w, rule[0]);
        return positive(stem) ? stem + rule[1] : w;
      }
    }
    if (w.endsWith("logi")) {
      // The 'l' stays with the stem for the measure, so that 'geo', 'theo' work like 'archaeo'.
      return positive(w.substring(0, w.length() - 3)) ? cut(w, "logi") + "log" : w;
    }
    return w;
  }

  private static final String[][] STEP3 = {
    {"icate", "ic"}, {"ative", ""}, {"alize", "al"}, {"iciti", "ic"}, {"ical", "ic"}, {"ful", ""}, {"ness", ""}
  };

  private static String step3(String w) {
    for (String[] rule : STEP3) {
      if (w.endsWith(rule[0])) {
        String stem = cut(w, rule[0]);
        return positive(stem) ? stem + rule[1] : w;
      }
    }
    return w;
  }

  private static final String[] STEP4 = {
    "al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "ion", "ou", "ism", "ate",
    "iti", "ous", "ive", "ize"
  };

  private static String step4(String w) {
    for (String suffix : STEP4) {
      if (w.endsWith(suffix)) {
        String stem = cut(w, suffix);
        boolean ok = measure(stem) > 1;
        if (suffix.equals("ion")) {
          ok = ok && !stem.isEmpty() && (stem.endsWith("s") || stem.endsWith("t"));
        }
        return ok ? stem : w;
      }
    }
    return w;
  }

  private static String step5a(String w) {
    if (w.endsWith("e")) {
      String stem = cut(w, "e");
      int m = measure(stem);
      if (m > 1) {
        return stem;
      }
      if (m == 1 && !endsCvc(stem)) {
        return stem;
      }
    }
    return w;
  }

  private static String step5b(String w) {
    if (w.endsWith("ll")) {
      return measure(w.substring(0, w.length() - 1)) > 1 ? cut(w, "ll") + "l" : w;
    }
    return w;
  }
}
