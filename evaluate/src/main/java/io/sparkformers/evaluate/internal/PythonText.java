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
    return out;
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

  /** {@code s.lower()}: full Unicode lower-casing (İ becomes i + U+0307, final sigma), no locale. */
  public static String lower(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c >= 128 || (c >= 'A' && c <= 'Z')) {
        return s.toLowerCase(Locale.ROOT);
      }
    }
    return s;
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
