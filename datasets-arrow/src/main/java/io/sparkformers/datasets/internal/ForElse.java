package io.sparkformers.datasets.internal;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * Jinja2's {@code {% for x in items %}...{% else %}nothing{% endfor %}}, whose else part renders only when there
 * was nothing to loop over: jinjava has no such else and renders it after every item. Rewritten to
 * {@code {% set __sparkformers_forN = items %}{% for x in __sparkformers_forN %}...{% endfor %}
 * {% if not __sparkformers_forN %}nothing{% endif %}}, whitespace control kept on each tag.
 */
public final class ForElse {
  private ForElse() {}

  /** One {@code {% ... %}} tag: where it is, its code, and its first word. */
  private record Tag(int start, int end, String code, String word) {}

  public static String rewrite(String source) {
    List<Tag> tags = new ArrayList<>();
    int i = 0;
    while (i < source.length()) {
      if (source.startsWith("{%", i)) {
        int end = StepSlices.codeEnd(source, i + 2, "%}");
        String code = source.substring(i + 2, end);
        tags.add(new Tag(i, Math.min(end + 2, source.length()), code, firstWord(code)));
        i = end + 2;
      } else if (source.startsWith("{#", i)) {
        int end = source.indexOf("#}", i + 2);
        i = end < 0 ? source.length() : end + 2;
      } else {
        i++;
      }
    }
    // For each for tag with an else: the indexes of the for, else and endfor tags.
    List<int[]> loops = new ArrayList<>();
    Deque<int[]> open = new ArrayDeque<>(); // {tag index, else index or -1}, blocks other than for hold {-1, -1}
    for (int t = 0; t < tags.size(); t++) {
      String word = tags.get(t).word();
      if (word.equals("for")) {
        open.push(new int[] {t, -1});
      } else if (word.equals("if") || word.equals("macro") || word.equals("call") || word.equals("filter")
          || word.equals("generation") || word.equals("block") || (word.equals("set") && !tags.get(t).code().contains("="))) {
        open.push(new int[] {-1, -1});
      } else if (word.equals("else") && !open.isEmpty() && open.peek()[0] >= 0) {
        open.peek()[1] = t;
      } else if (word.startsWith("end") && !open.isEmpty()) {
        int[] block = open.pop();
        if (word.equals("endfor") && block[0] >= 0 && block[1] >= 0) {
          loops.add(new int[] {block[0], block[1], t});
        }
      }
    }
    if (loops.isEmpty()) {
      return source;
    }
    String[] replacement = new String[tags.size()];
    for (int n = 0; n < loops.size(); n++) {
      int[] loop = loops.get(n);
      String name = "__sparkformers_for" + n;
      Tag forTag = tags.get(loop[0]);
      String code = forTag.code();
      int in = code.indexOf(" in ");
      String[] control = control(code);
      String head = code.substring(control[0].length(), in).strip(); // "for x"
      String items = code.substring(in + 4, code.length() - control[1].length()).strip();
      replacement[loop[0]] = "{%" + control[0] + " set " + name + " = " + items + " %}{% " + head + " in " + name + " "
          + control[1] + "%}";
      String[] elseControl = control(tags.get(loop[1]).code());
      replacement[loop[1]] = "{%" + elseControl[0] + " endfor %}{% if not " + name + " " + elseControl[1] + "%}";
      String[] endControl = control(tags.get(loop[2]).code());
      replacement[loop[2]] = "{%" + endControl[0] + " endif " + endControl[1] + "%}";
    }
    StringBuilder out = new StringBuilder(source.length() + 100);
    int from = 0;
    for (int t = 0; t < tags.size(); t++) {
      if (replacement[t] != null) {
        out.append(source, from, tags.get(t).start()).append(replacement[t]);
        from = tags.get(t).end();
      }
    }
    return out.append(source.substring(from)).toString();
  }

  /** The whitespace control marks ("-" or "+") at the start and end of a tag's code, or "". */
  private static String[] control(String code) {
    String start = !code.isEmpty() && (code.charAt(0) == '-' || code.charAt(0) == '+') ? code.substring(0, 1) : "";
    String trimmed = code.stripTrailing();
    String end = !trimmed.isEmpty() && trimmed.length() > start.length()
        && (trimmed.endsWith("-") || trimmed.endsWith("+")) ? trimmed.substring(trimmed.length() - 1) : "";
    return new String[] {start, end.isEmpty() ? "" : code.substring(code.lastIndexOf(end))};
  }

  private static String firstWord(String code) {
    int i = 0;
    while (i < code.length() && (code.charAt(i) == '-' || code.charAt(i) == '+' || Character.isWhitespace(code.charAt(i)))) {
      i++;
    }
    int j = i;
    while (j < code.length() && (Character.isLetterOrDigit(code.charAt(j)) || code.charAt(j) == '_')) {
      j++;
    }
    return code.substring(i, j);
  }
}
