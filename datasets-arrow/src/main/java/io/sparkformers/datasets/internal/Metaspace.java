package io.sparkformers.datasets.internal;

import java.util.ArrayList;
import java.util.List;

/**
 * SentencePiece's word splitting as the tokenizers library's {@code Metaspace} pre-tokenizer does it with
 * {@code prepend_scheme: always} and {@code split: true}: spaces become "▁", a "▁" is put in front unless the
 * text starts with one, and the text is cut before every "▁" (each "▁" starts a word).
 */
public final class Metaspace {
  public static final char REPLACEMENT = '\u2581';

  private Metaspace() {}

  public static List<String> preTokenize(String text) {
    List<String> words = new ArrayList<>();
    if (text.isEmpty()) {
      return words;
    }
    String replaced = text.replace(' ', REPLACEMENT);
    if (replaced.charAt(0) != REPLACEMENT) {
      replaced = REPLACEMENT + replaced;
    }
    int start = 0;
    for (int i = 1; i < replaced.length(); i++) {
      if (replaced.charAt(i) == REPLACEMENT) {
        words.add(replaced.substring(start, i));
        start = i;
      }
    }
    words.add(replaced.substring(start));
    return words;
  }
}
