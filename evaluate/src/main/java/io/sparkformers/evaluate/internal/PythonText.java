package io.sparkformers.evaluate.internal;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Python's string rules where they differ from Java's: {@code str.isspace}, {@code split()}, {@code lower()}. */
public final class PythonText {
  private PythonText() {}

  /** {@code chr(cp).isspace()} in Python 3.11: bidi class WS, B or S, or category Zs. */
  public static boolean isSpace(int cp) {
    if (cp < 128) {
      return cp == ' ' || (cp >= 9 && cp <= 13) || (cp >= 28 && cp <= 31);
    }
    return cp == 0x85 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028
        || cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
  }

  /** {@code s.split()}: runs of whitespace separate tokens; none at either end. */
  public static List<String> split(CharSequence s) {
    List<String> out = new ArrayList<>();
    splitInto(s, out);
    return out;
  }

  /** Appends the tokens of {@code s.split()} to {@code out}. */
  public static void splitInto(CharSequence s, List<String> out) {
    int n = s.length();
    int start = -1;
    for (int i = 0; i < n; ) {
      int cp = Character.codePointAt(s, i);
      int w = Character.charCount(cp);
      if (isSpace(cp)) {
        if (start >= 0) {
          out.add(s.subSequence(start, i).toString());
          start = -1;
        }
      } else if (start < 0) {
        start = i;
      }
      i += w;
    }
    if (start >= 0) {
      out.add(s.subSequence(start, n).toString());
    }
  }

  /** {@code s.rstrip()}. */
  public static String rstrip(String s) {
    int end = s.length();
    while (end > 0) {
      int cp = Character.codePointBefore(s, end);
      if (!isSpace(cp)) {
        break;
      }
      end -= Character.charCount(cp);
    }
    return s.substring(0, end);
  }

  /** {@code s.strip()}. */
  public static String strip(String s) {
    String r = rstrip(s);
    int start = 0;
    while (start < r.length()) {
      int cp = r.codePointAt(start);
      if (!isSpace(cp)) {
        break;
      }
      start += Character.charCount(cp);
    }
    return r.substring(start);
  }

  /**
   * {@code s.lower()}: Unicode full lower-casing as Python does it — İ becomes "i̇", and Σ becomes ς only in
   * Python's Final_Sigma context (a cased letter before it, skipping case-ignorables, and none after), which
   * differs from Java's {@code toLowerCase}.
   */
  public static String lower(String s) {
    boolean simple = true;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c >= 128) {
        simple = false;
        break;
      }
    }
    if (simple) {
      for (int i = 0; i < s.length(); i++) {
        char c = s.charAt(i);
        if (c >= 'A' && c <= 'Z') {
          return s.toLowerCase(Locale.ROOT);
        }
      }
      return s;
    }
    StringBuilder b = new StringBuilder(s.length() + 4);
    for (int i = 0; i < s.length(); ) {
      int cp = s.codePointAt(i);
      if (cp == 0x130) {
        b.append('i').append('\u0307');
      } else if (cp == 0x3a3) {
        b.append(finalSigma(s, i) ? '\u03c2' : '\u03c3');
      } else {
        b.appendCodePoint(Character.toLowerCase(cp));
      }
      i += Character.charCount(cp);
    }
    return b.toString();
  }

  private static boolean finalSigma(String s, int i) {
    int j = i;
    int c = -1;
    while (j > 0) {
      c = s.codePointBefore(j);
      j -= Character.charCount(c);
      if (!caseIgnorable(c)) {
        break;
      }
      c = -1;
    }
    if (c < 0 || !cased(c)) {
      return false;
    }
    j = i + 1;
    while (j < s.length()) {
      c = s.codePointAt(j);
      if (!caseIgnorable(c)) {
        return !cased(c);
      }
      j += Character.charCount(c);
    }
    return true;
  }

  private static boolean cased(int cp) {
    return Character.isLowerCase(cp) || Character.isUpperCase(cp) || Character.isTitleCase(cp);
  }

  private static boolean caseIgnorable(int cp) {
    switch (Character.getType(cp)) {
      case Character.NON_SPACING_MARK:
      case Character.ENCLOSING_MARK:
      case Character.FORMAT:
      case Character.MODIFIER_LETTER:
      case Character.MODIFIER_SYMBOL:
        return true;
      default:
        break;
    }
    // Word_Break MidLetter, MidNumLet and Single_Quote.
    switch (cp) {
      case 0x27: case 0x2e: case 0x3a: case 0xb7: case 0x387: case 0x55f: case 0x5f4: case 0x2018: case 0x2019:
      case 0x2024: case 0x2027: case 0xfe13: case 0xfe52: case 0xfe55: case 0xff07: case 0xff0e: case 0xff1a:
        return true;
      default:
        return false;
    }
  }

  /** {@code f"{x:.{digits}f}"}: rounds the exact binary value half-to-even, as Python does. */
  public static String fixed(double x, int digits) {
    if (Double.isNaN(x)) {
      return "nan";
    }
    if (Double.isInfinite(x)) {
      return x > 0 ? "inf" : "-inf";
    }
    String s = new BigDecimal(x).setScale(digits, RoundingMode.HALF_EVEN).toPlainString();
    if (x < 0 || (x == 0 && 1 / x < 0)) {
      // Python keeps the sign of a negative number that rounds to zero ("-0.00").
      if (!s.startsWith("-")) {
        s = "-" + s;
      }
    }
    return s;
  }
}
