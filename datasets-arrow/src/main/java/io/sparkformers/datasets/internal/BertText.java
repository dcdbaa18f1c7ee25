package io.sparkformers.datasets.internal;

import java.text.Normalizer;
import java.util.ArrayList;
import java.util.List;

/**
 * BERT's text handling as in Hugging Face tokenizers' {@code BertNormalizer} (clean text, space around CJK
 * characters, lowercase and strip accents) and {@code BertPreTokenizer} (split on whitespace and around each
 * punctuation character).
 */
public final class BertText {
  private BertText() {}

  public static String normalize(String text, boolean lowercase) {
    StringBuilder s = new StringBuilder(text.length());
    text.codePoints().forEach(c -> {
      if (c == 0 || c == 0xFFFD || (isControl(c))) {
        return;
      }
      if (isWhitespace(c)) {
        s.append(' ');
      } else if (isChinese(c)) {
        s.append(' ').appendCodePoint(c).append(' ');
      } else {
        s.appendCodePoint(c);
      }
    });
    String out = s.toString();
    if (lowercase) {
      // strip_accents follows lowercase when not set, as in BertNormalizer.
      out = Normalizer.normalize(out, Normalizer.Form.NFD).replaceAll("\\p{Mn}", "").toLowerCase(java.util.Locale.ROOT);
    }
    return out;
  }

  private static boolean isWhitespace(int c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || Character.getType(c) == Character.SPACE_SEPARATOR;
  }

  private static boolean isControl(int c) {
    if (c == '\t' || c == '\n' || c == '\r') {
      return false;
    }
    int t = Character.getType(c);
    return t == Character.CONTROL || t == Character.FORMAT || t == Character.PRIVATE_USE
        || t == Character.SURROGATE || t == Character.UNASSIGNED;
  }

  private static boolean isChinese(int c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF)
        || (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF)
        || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
  }

  public static boolean isPunctuation(int c) {
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) {
      return true;
    }
    int t = Character.getType(c);
    return t == Character.CONNECTOR_PUNCTUATION || t == Character.DASH_PUNCTUATION
        || t == Character.START_PUNCTUATION || t == Character.END_PUNCTUATION
        || t == Character.INITIAL_QUOTE_PUNCTUATION || t == Character.FINAL_QUOTE_PUNCTUATION
        || t == Character.OTHER_PUNCTUATION;
  }

  /** Words split on whitespace, with each punctuation character a word of its own. */
  public static List<String> preTokenize(String text) {
    List<String> out = new ArrayList<>();
    StringBuilder word = new StringBuilder();
    text.codePoints().forEach(c -> {
      if (Character.isWhitespace(c) || Character.getType(c) == Character.SPACE_SEPARATOR) {
        flush(word, out);
      } else if (isPunctuation(c)) {
        flush(word, out);
        out.add(new String(Character.toChars(c)));
      } else {
        word.appendCodePoint(c);
      }
    });
    flush(word, out);
    return out;
  }

  private static void flush(StringBuilder word, List<String> out) {
    if (word.length() > 0) {
      out.add(word.toString());
      word.setLength(0);
    }
  }
}
