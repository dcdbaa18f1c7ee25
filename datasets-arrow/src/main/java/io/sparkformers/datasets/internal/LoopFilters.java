package io.sparkformers.datasets.internal;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.objects.collections.PyList;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Jinja2's filtered loops, {@code {% for m in messages if m.role != 'system' %}}: jinjava ignores the condition
 * and loops over every item. Each such tag is rewritten to {@code {% set __sparkformers_loopN = messages %}
 * {% for m in __sparkformers_loopN|py_loop_filter(N) %}},
 * the condition kept as the N-th entry of {@link #VARIABLE}, so that {@code loop.index} and {@code loop.last}
 * count the kept items only, as in Jinja2.
 */
public final class LoopFilters {
  private LoopFilters() {}

  private static final String NAME_PREFIX = "__sparkformers_loop";

  /** The template variable holding the conditions, by number. */
  public static final String VARIABLE = "__sparkformers_loop_filters";

  /** A rewritten source and the conditions (and loop targets) its filtered loops had. */
  public record Rewritten(String source, List<List<String>> filters) {}

  public static Rewritten rewrite(String source) {
    StringBuilder out = new StringBuilder(source.length());
    List<List<String>> filters = new ArrayList<>();
    int i = 0;
    while (i < source.length()) {
      if (source.startsWith("{%", i)) {
        int end = StepSlices.codeEnd(source, i + 2, "%}");
        out.append("{%").append(rewriteTag(source.substring(i + 2, end), filters));
        i = end;
      } else {
        out.append(source.charAt(i++));
      }
    }
    return new Rewritten(out.toString(), List.copyOf(filters));
  }

  private static String rewriteTag(String code, List<List<String>> filters) {
    int start = 0;
    while (start < code.length() && (code.charAt(start) == '-' || code.charAt(start) == '+')) {
      start++;
    }
    String body = code.substring(start).stripLeading();
    if (!body.startsWith("for ") && !body.startsWith("for\t")) {
      return code;
    }
    int in = topLevelWord(body, "in", 3);
    int cond = in < 0 ? -1 : topLevelWord(body, "if", in + 2);
    if (cond < 0) {
      return code;
    }
    // A trailing "-" of "-%}" stays where it was.
    String tail = body.substring(cond + 2);
    String control = "";
    String trimmed = tail.stripTrailing();
    if (trimmed.endsWith("-") || trimmed.endsWith("+")) {
      control = trimmed.substring(trimmed.length() - 1);
      trimmed = trimmed.substring(0, trimmed.length() - 1);
    }
    String recursive = "";
    if (trimmed.stripTrailing().endsWith(" recursive")) {
      trimmed = trimmed.stripTrailing();
      trimmed = trimmed.substring(0, trimmed.length() - " recursive".length());
      recursive = " recursive";
    }
    String targets = body.substring(4, in).strip();
    filters.add(List.of(trimmed.strip(), targets));
    int n = filters.size() - 1;
    // The items go through a variable first: jinjava's for misreads "k, v in (expression with commas)".
    String leading = code.substring(0, start);
    return leading + " set " + NAME_PREFIX + n + " = " + body.substring(in + 2, cond).strip() + " %}{% for " + targets
        + " in " + NAME_PREFIX + n + "|py_loop_filter(" + n + ")" + recursive + " " + control;
  }

  /** Index of {@code word} as a separate word outside strings and brackets, from {@code from}; -1 if none. */
  private static int topLevelWord(String code, String word, int from) {
    int depth = 0;
    int i = from;
    while (i < code.length()) {
      char c = code.charAt(i);
      if (c == '\'' || c == '"') {
        i = StepSlices.stringEnd(code, i);
        continue;
      }
      if (c == '(' || c == '[' || c == '{') {
        depth++;
      } else if (c == ')' || c == ']' || c == '}') {
        depth--;
      } else if (depth == 0 && code.startsWith(word, i) && (i == 0 || !isNamePart(code.charAt(i - 1)))
          && (i + word.length() == code.length() || !isNamePart(code.charAt(i + word.length())))) {
        return i;
      }
      i++;
    }
    return -1;
  }

  private static boolean isNamePart(char c) {
    return Character.isLetterOrDigit(c) || c == '_';
  }

  /** The items of {@code value} for which filter {@code number}'s condition holds, its targets bound to each. */
  @SuppressWarnings("unchecked")
  public static Object select(Object value, JinjavaInterpreter interpreter, int number) {
    List<List<String>> filters = (List<List<String>>) interpreter.getContext().get(VARIABLE);
    String condition = filters.get(number).get(0);
    String[] targets = filters.get(number).get(1).split("\\s*,\\s*");
    List<Object> items = new ArrayList<>();
    if (value instanceof Map<?, ?> map) {
      items.addAll(map.keySet());
    } else if (value instanceof Iterable<?> iterable) {
      iterable.forEach(items::add);
    }
    List<Object> kept = new ArrayList<>();
    for (Object item : items) {
      try (JinjavaInterpreter.InterpreterScopeClosable scope = interpreter.enterScope()) {
        if (targets.length == 1) {
          interpreter.getContext().put(targets[0], item);
        } else {
          List<Object> parts = item instanceof Map.Entry<?, ?> e ? List.of(e.getKey(), e.getValue())
              : item instanceof List<?> l ? (List<Object>) l : List.of(item);
          for (int t = 0; t < targets.length && t < parts.size(); t++) {
            interpreter.getContext().put(targets[t], parts.get(t));
          }
        }
        if (PythonValues.truthy(interpreter.resolveELExpression(condition, interpreter.getLineNumber()))) {
          kept.add(item);
        }
      }
    }
    return new PyList(kept);
  }
}
