package io.sparkformers.datasets.internal;

/**
 * Jinja2's {@code lstrip_blocks}: spaces and tabs from the start of a line up to a block or comment tag are
 * removed. jinjava's own option removes the spaces before every tag, also after text on the same line
 * ({@code a {% if x %}} loses its space), so this is done on the source instead; {@code {%+} keeps them.
 */
public final class LstripBlocks {
  private LstripBlocks() {}

  public static String rewrite(String source) {
    StringBuilder out = new StringBuilder(source.length());
    int lineStart = 0; // where the current line's leading spaces and tabs begin in out; -1 once text is written
    int i = 0;
    while (i < source.length()) {
      boolean block = source.startsWith("{%", i);
      if (block || source.startsWith("{#", i)) {
        char mark = i + 2 < source.length() ? source.charAt(i + 2) : ' ';
        if (mark == '+') {
          out.append(source, i, i + 2); // "{%+" is "{%" with the spaces kept
          i += 3;
        } else {
          if (lineStart >= 0) {
            out.setLength(lineStart);
          }
          out.append(source, i, i + 2);
          i += 2;
        }
        int end = block ? StepSlices.codeEnd(source, i, "%}") : commentEnd(source, i);
        end = Math.min(end + 2, source.length());
        out.append(source, i, end);
        i = end;
        lineStart = -1;
      } else if (source.startsWith("{{", i)) {
        int end = Math.min(StepSlices.codeEnd(source, i + 2, "}}") + 2, source.length());
        out.append(source, i, end);
        i = end;
        lineStart = -1;
      } else {
        char c = source.charAt(i++);
        out.append(c);
        if (c == '\n') {
          lineStart = out.length();
        } else if (c != ' ' && c != '\t') {
          lineStart = -1;
        }
      }
    }
    return out.toString();
  }

  private static int commentEnd(String source, int from) {
    int end = source.indexOf("#}", from);
    return end < 0 ? source.length() : end;
  }
}
