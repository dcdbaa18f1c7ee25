package io.sparkformers.datasets.internal;

import java.util.LinkedHashSet;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The filter and test names a template's expressions use ({@code x|trim}, {@code x is defined}). */
final class CodeNames {
  private CodeNames() {}

  private static final Pattern FILTER = Pattern.compile("(?<!\\|)\\|(?!\\|)\\s*([A-Za-z_][A-Za-z0-9_]*)");
  private static final Pattern TEST = Pattern.compile("\\bis\\s+(?:not\\s+)?([A-Za-z_][A-Za-z0-9_]*)");

  static Set<String> filters(String source) {
    return names(source, FILTER);
  }

  static Set<String> tests(String source) {
    return names(source, TEST);
  }

  private static Set<String> names(String source, Pattern pattern) {
    Set<String> names = new LinkedHashSet<>();
    Matcher m = pattern.matcher(code(source));
    while (m.find()) {
      names.add(m.group(1));
    }
    return names;
  }

  /** The code inside {{ }} and {% %}, string literals blanked, blocks separated by newlines. */
  private static String code(String source) {
    StringBuilder out = new StringBuilder();
    int i = 0;
    while (i < source.length()) {
      if (source.startsWith("{{", i) || source.startsWith("{%", i)) {
        String close = source.charAt(i + 1) == '{' ? "}}" : "%}";
        int end = StepSlices.codeEnd(source, i + 2, close);
        int j = i + 2;
        while (j < end) {
          char c = source.charAt(j);
          if (c == '\'' || c == '"') {
            int stringEnd = StepSlices.stringEnd(source, j);
            out.append(" ".repeat(stringEnd - j));
            j = stringEnd;
          } else {
            out.append(c);
            j++;
          }
        }
        out.append('\n');
        i = end + 2;
      } else if (source.startsWith("{#", i)) {
        int end = source.indexOf("#}", i + 2);
        i = end < 0 ? source.length() : end + 2;
      } else {
        i++;
      }
    }
    return out.toString();
  }
}
