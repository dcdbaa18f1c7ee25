package io.sparkformers.evaluate.internal;

import java.util.ArrayList;
import java.util.List;

/**
 * sacrebleu 2.x's tokenizers, each returning the tokens that {@code tokenizer(line).split()} gives in Python.
 * 13a and zh emulate the regular expressions of {@code tokenizer_re.py} as left-to-right scans with the same
 * non-overlapping match rules; intl works on code points as the {@code regex} module does.
 */
public final class SacreTokenizers {
  private SacreTokenizers() {}

  /** Tokens of one line under the named tokenizer ({@code 13a}, {@code intl}, {@code zh}, {@code char}, {@code none}). */
  public static List<String> tokenize(String name, String line) {
    switch (name) {
      case "13a":
        return tokenize13a(line);
      case "intl":
        return tokenizeIntl(line);
      case "zh":
        return tokenizeZh(line);
      case "char":
        return tokenizeChar(line);
      case "none":
        return PythonText.split(line);
      default:
        throw new IllegalArgumentException("unknown tokenizer '" + name + "': expected one of 13a, intl, zh, char, none");
    }
  }

  /**
   * mteval-v13a: unescape a few entities, then the regexp tokenizer on the line padded with spaces. After the
   * first substitution every character of its class stands alone between spaces, and a space can never be
   * consumed by a later pattern in a way that changes how the next character is scanned; so each remaining
   * run of characters (a "word", always between spaces) can be tokenized on its own. Words without '.', ','
   * or '-' are left whole by the later substitutions and need no work.
   */
  public static List<String> tokenize13a(String line) {
    if (line.indexOf('<') >= 0) {
      line = line.replace("<skipped>", "");
    }
    if (line.indexOf('\n') >= 0) {
      line = line.replace("-\n", "").replace("\n", " ");
    }
    if (line.indexOf('&') >= 0) {
      line = line.replace("&quot;", "\"").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">");
    }
    List<String> out = new ArrayList<>(line.length() / 4 + 4);
    int n = line.length();
    int i = 0;
    while (i < n) {
      char c = line.charAt(i);
      if (isSpaceChar(c)) {
        i++;
        continue;
      }
      if (isRe13aPunct(c)) {
        out.add(String.valueOf(c));
        i++;
        continue;
      }
      int j = i;
      boolean special = false;
      while (j < n) {
        char d = line.charAt(j);
        if (isSpaceChar(d) || isRe13aPunct(d)) {
          break;
        }
        special |= d == '.' || d == ',' || d == '-';
        j++;
      }
      if (special) {
        PythonText.splitInto(regexpTokenizeTail(" " + line.substring(i, j) + " "), out);
      } else {
        out.add(line.substring(i, j));
      }
      i = j;
    }
    return out;
  }

  private static boolean isSpaceChar(char c) {
    return c == ' ' || (c < 128 ? (c >= 9 && c <= 13) || (c >= 28 && c <= 31) : PythonText.isSpace(c));
  }

  private static boolean isDigit(char c) {
    return c >= '0' && c <= '9';
  }

  // [\{-\~\[-\` -\&\(-\+\:-\@\/]
  private static boolean isRe13aPunct(char c) {
    return (c >= '{' && c <= '~') || (c >= '[' && c <= '`') || (c >= ' ' && c <= '&') || (c >= '(' && c <= '+')
        || (c >= ':' && c <= '@') || c == '/';
  }

  /** tokenizer_re.py's four substitutions (the final split is left to the caller). */
  static String regexpTokenize(String s) {
    return regexpTokenizeTail(regexpStep1(s));
  }

  private static String regexpStep1(String s) {
    int n = s.length();
    // 1. ([\{-\~\[-\` -\&\(-\+\:-\@\/]) -> " \1 "
    StringBuilder a = new StringBuilder(n + n / 2 + 8);
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      if (isRe13aPunct(c)) {
        a.append(' ').append(c).append(' ');
      } else {
        a.append(c);
      }
    }
    return a.toString();
  }

  /** Substitutions 2 to 4 of tokenizer_re.py. */
  private static String regexpTokenizeTail(String a) {
    // 2. ([^0-9])([\.,]) -> "\1 \2 "
    StringBuilder b = new StringBuilder(a.length() + 16);
    for (int i = 0, m = a.length(); i < m; ) {
      char c = a.charAt(i);
      if (i + 1 < m && !isDigit(c) && (a.charAt(i + 1) == '.' || a.charAt(i + 1) == ',')) {
        b.append(c).append(' ').append(a.charAt(i + 1)).append(' ');
        i += 2;
      } else {
        b.append(c);
        i++;
      }
    }
    // 3. ([\.,])([^0-9]) -> " \1 \2"
    StringBuilder d = new StringBuilder(b.length() + 16);
    for (int i = 0, m = b.length(); i < m; ) {
      char c = b.charAt(i);
      if (i + 1 < m && (c == '.' || c == ',') && !isDigit(b.charAt(i + 1))) {
        d.append(' ').append(c).append(' ').append(b.charAt(i + 1));
        i += 2;
      } else {
        d.append(c);
        i++;
      }
    }
    // 4. ([0-9])(-) -> "\1 \2 "
    StringBuilder e = new StringBuilder(d.length() + 8);
    for (int i = 0, m = d.length(); i < m; ) {
      char c = d.charAt(i);
      if (i + 1 < m && isDigit(c) && d.charAt(i + 1) == '-') {
        e.append(c).append(' ').append('-').append(' ');
        i += 2;
      } else {
        e.append(c);
        i++;
      }
    }
    return e.toString();
  }

  private static boolean isNumber(int cp) {
    int t = Character.getType(cp);
    return t == Character.DECIMAL_DIGIT_NUMBER || t == Character.LETTER_NUMBER || t == Character.OTHER_NUMBER;
  }

  private static boolean isPunct(int cp) {
    switch (Character.getType(cp)) {
      case Character.CONNECTOR_PUNCTUATION:
      case Character.DASH_PUNCTUATION:
      case Character.START_PUNCTUATION:
      case Character.END_PUNCTUATION:
      case Character.INITIAL_QUOTE_PUNCTUATION:
      case Character.FINAL_QUOTE_PUNCTUATION:
      case Character.OTHER_PUNCTUATION:
        return true;
      default:
        return false;
    }
  }

  private static boolean isSymbol(int cp) {
    switch (Character.getType(cp)) {
      case Character.MATH_SYMBOL:
      case Character.CURRENCY_SYMBOL:
      case Character.MODIFIER_SYMBOL:
      case Character.OTHER_SYMBOL:
        return true;
      default:
        return false;
    }
  }

  /** mteval-v14 international: punctuation split unless next to a digit, symbols always split. */
  public static List<String> tokenizeIntl(String line) {
    int[] cps = line.codePoints().toArray();
    // 1. (\P{N})(\p{P}) -> "\1 \2 "
    int[] a = scanPairs(cps, 1);
    // 2. (\p{P})(\P{N}) -> " \1 \2"
    int[] b = scanPairs(a, 2);
    // 3. (\p{S}) -> " \1 "
    StringBuilder out = new StringBuilder(b.length + 16);
    for (int cp : b) {
      if (isSymbol(cp)) {
        out.append(' ').appendCodePoint(cp).append(' ');
      } else {
        out.appendCodePoint(cp);
      }
    }
    return PythonText.split(out);
  }

  private static int[] scanPairs(int[] in, int rule) {
    int[] out = new int[in.length * 2 + 2];
    int k = 0;
    for (int i = 0; i < in.length; ) {
      if (i + 1 < in.length) {
        int x = in[i];
        int y = in[i + 1];
        boolean match = rule == 1 ? (!isNumber(x) && isPunct(y)) : (isPunct(x) && !isNumber(y));
        if (match) {
          if (out.length < k + 4) {
            out = java.util.Arrays.copyOf(out, out.length * 2 + 4);
          }
          if (rule == 1) {
            out[k++] = x;
            out[k++] = ' ';
            out[k++] = y;
            out[k++] = ' ';
          } else {
            out[k++] = ' ';
            out[k++] = x;
            out[k++] = ' ';
            out[k++] = y;
          }
          i += 2;
          continue;
        }
      }
      if (out.length < k + 1) {
        out = java.util.Arrays.copyOf(out, out.length * 2 + 4);
      }
      out[k++] = in[i++];
    }
    return java.util.Arrays.copyOf(out, k);
  }

  /**
   * sacrebleu's {@code _is_chinese_char}. Its table writes two supplementary ranges as '\u20000' and
   * '\u2f800', which Python reads as two-character strings; compared with one character they select
   * U+2001..U+2A6D and U+2F81..U+2FA1 instead, and no supplementary character at all. We keep that.
   */
  static boolean isChineseChar(int cp) {
    if (cp > 0xffff) {
      return false;
    }
    return (cp >= 0x3400 && cp <= 0x4db5) || (cp >= 0x4e00 && cp <= 0x9fa5) || (cp >= 0x9fa6 && cp <= 0x9fbb)
        || (cp >= 0xf900 && cp <= 0xfa2d) || (cp >= 0xfa30 && cp <= 0xfa6a) || (cp >= 0xfa70 && cp <= 0xfad9)
        || (cp >= 0x2001 && cp <= 0x2a6d) || (cp >= 0x2f81 && cp <= 0x2fa1) || (cp >= 0xff00 && cp <= 0xffef)
        || (cp >= 0x2e80 && cp <= 0x2eff) || (cp >= 0x3000 && cp <= 0x303f) || (cp >= 0x31c0 && cp <= 0x31ef)
        || (cp >= 0x2f00 && cp <= 0x2fdf) || (cp >= 0x2ff0 && cp <= 0x2fff) || (cp >= 0x3100 && cp <= 0x312f)
        || (cp >= 0x31a0 && cp <= 0x31bf) || (cp >= 0xfe10 && cp <= 0xfe1f) || (cp >= 0xfe30 && cp <= 0xfe4f)
        || (cp >= 0x2600 && cp <= 0x26ff) || (cp >= 0x2700 && cp <= 0x27bf) || (cp >= 0x3200 && cp <= 0x32ff)
        || (cp >= 0x3300 && cp <= 0x33ff);
  }

  /** Chinese: every Chinese character on its own, the rest through the regexp tokenizer (no 13a escapes). */
  public static List<String> tokenizeZh(String line) {
    String s = PythonText.strip(line);
    StringBuilder b = new StringBuilder(s.length() * 2);
    for (int i = 0; i < s.length(); ) {
      int cp = s.codePointAt(i);
      if (isChineseChar(cp)) {
        b.append(' ').appendCodePoint(cp).append(' ');
      } else {
        b.appendCodePoint(cp);
      }
      i += Character.charCount(cp);
    }
    return PythonText.split(regexpTokenize(b.toString()));
  }

  /** " ".join(line), then split: every non-whitespace code point is a token. */
  public static List<String> tokenizeChar(String line) {
    List<String> out = new ArrayList<>(line.length());
    for (int i = 0; i < line.length(); ) {
      int cp = line.codePointAt(i);
      int w = Character.charCount(cp);
      if (!PythonText.isSpace(cp)) {
        out.add(line.substring(i, i + w));
      }
      i += w;
    }
    return out;
  }
}
