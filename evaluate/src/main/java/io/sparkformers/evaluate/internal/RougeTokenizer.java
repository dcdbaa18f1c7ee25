package io.sparkformers.evaluate.internal;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;

/**
 * rouge-score 0.1.2's {@code tokenize.tokenize}: lower-case, every run of characters outside [a-z0-9] is a
 * separator, tokens longer than 3 characters optionally go through the Porter stemmer. Only two characters
 * lower-case to ASCII under Python's full case mapping (U+0130 → "i̇", U+212A KELVIN SIGN → "k"); every other
 * non-ASCII character is a separator, so the scan needs no full lower-casing.
 */
public final class RougeTokenizer {
  private final boolean useStemmer;
  // Stemming dominates the cost; the vocabulary of a corpus is small, so memoise (bounded).
  private final HashMap<String, String> stems = new HashMap<>();

  public RougeTokenizer(boolean useStemmer) {
    this.useStemmer = useStemmer;
  }

  public List<String> tokenize(String text) {
    List<String> out = new ArrayList<>();
    StringBuilder tok = new StringBuilder();
    for (int i = 0; i < text.length(); ) {
      int cp = text.codePointAt(i);
      i += Character.charCount(cp);
      char c;
      boolean sepAfter = false;
      if (cp < 128) {
        c = (char) cp;
        if (c >= 'A' && c <= 'Z') {
          c = (char) (c + 32);
        }
      } else if (cp == 0x212a) {
        c = 'k';
      } else if (cp == 0x130) {
        c = 'i';
        sepAfter = true; // the combining dot that follows is not [a-z0-9]
      } else {
        c = ' ';
      }
      if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
        tok.append(c);
        if (sepAfter) {
          flush(tok, out);
        }
      } else {
        flush(tok, out);
      }
    }
    flush(tok, out);
    return out;
  }

  private void flush(StringBuilder tok, List<String> out) {
    if (tok.length() == 0) {
      return;
    }
    String t = tok.toString();
    tok.setLength(0);
    if (useStemmer && t.length() > 3) {
      String s = stems.get(t);
      if (s == null) {
        s = PorterStemmer.stem(t);
        if (stems.size() > 200_000) {
          stems.clear();
        }
        stems.put(t, s);
      }
      t = s;
    }
    if (!t.isEmpty()) {
      out.add(t);
    }
  }
}
