package io.sparkformers.datasets.internal;

/**
 * Python's {@code \}{@code uXXXX}, {@code \}{@code UXXXXXXXX} and {@code \xXX} escapes in a template's string
 * literals, which jinjava's scanner rejects ("invalid escape sequence"): each is replaced by its character
 * before parsing (escaped again when it is a quote or a backslash).
 */
public final class StringEscapes {
  private StringEscapes() {}

  public static String rewrite(String source) {
    if (!source.contains("\\u") && !source.contains("\\U") && !source.contains("\\x")) {
      return source;
    }
    StringBuilder out = new StringBuilder(source.length());
    int i = 0;
    while (i < source.length()) {
      if (source.startsWith("{{", i) || source.startsWith("{%", i)) {
        String close = source.charAt(i + 1) == '{' ? "}}" : "%}";
        int end = StepSlices.codeEnd(source, i + 2, close);
        out.append(source, i, i + 2);
        int j = i + 2;
        while (j < end) {
          char c = source.charAt(j);
          if (c == '\'' || c == '"') {
            int stringEnd = StepSlices.stringEnd(source, j);
            out.append(literal(source.substring(j, stringEnd)));
            j = stringEnd;
          } else {
            out.append(c);
            j++;
          }
        }
        i = end;
      } else {
        out.append(source.charAt(i++));
      }
    }
    return out.toString();
  }

  private static String literal(String quoted) {
    StringBuilder out = new StringBuilder(quoted.length());
    char quote = quoted.charAt(0);
    int i = 0;
    while (i < quoted.length()) {
      char c = quoted.charAt(i);
      if (c == '\\' && i + 1 < quoted.length()) {
        char kind = quoted.charAt(i + 1);
        int digits = kind == 'u' ? 4 : kind == 'U' ? 8 : kind == 'x' ? 2 : 0;
        if (digits > 0 && i + 2 + digits <= quoted.length()
            && quoted.substring(i + 2, i + 2 + digits).matches("[0-9A-Fa-f]+")) {
          int codePoint = Integer.parseInt(quoted.substring(i + 2, i + 2 + digits), 16);
          if (codePoint == quote || codePoint == '\\') {
            out.append('\\');
          }
          out.appendCodePoint(codePoint);
          i += 2 + digits;
          continue;
        }
        out.append(c).append(kind);
        i += 2;
        continue;
      }
      out.append(c);
      i++;
    }
    return out.toString();
  }
}
