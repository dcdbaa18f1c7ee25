package io.sparkformers.datasets.internal;

import java.util.ArrayList;
import java.util.List;

/**
 * Jinja2's slices with a step ({@code messages[::-1]}, {@code text[1:10:2]}), which jinjava's parser rejects:
 * each {@code x[start:stop:step]} inside {@code {{ }}} or {@code {% %}} is rewritten to
 * {@code x|py_slice(start, stop, step)} before parsing. Filters bind to the same operand a subscript does, so the
 * meaning is kept; only a further subscript or attribute right after such a slice stays unsupported (jinjava does
 * not parse {@code x|f[0]}).
 */
public final class StepSlices {
  private StepSlices() {}

  public static String rewrite(String source) {
    StringBuilder out = new StringBuilder(source.length());
    int i = 0;
    int n = source.length();
    while (i < n) {
      if (source.startsWith("{{", i) || source.startsWith("{%", i)) {
        String close = source.charAt(i + 1) == '{' ? "}}" : "%}";
        int end = codeEnd(source, i + 2, close);
        out.append(source, i, i + 2).append(rewriteCode(source.substring(i + 2, end)));
        i = end;
      } else if (source.startsWith("{#", i)) {
        int end = source.indexOf("#}", i + 2);
        end = end < 0 ? n : end + 2;
        out.append(source, i, end);
        i = end;
      } else {
        out.append(source.charAt(i++));
      }
    }
    return out.toString();
  }

  /** Index of the closing delimiter of a code block starting at {@code from}, skipping string literals. */
  static int codeEnd(String s, int from, String close) {
    int i = from;
    while (i < s.length()) {
      char c = s.charAt(i);
      if (c == '\'' || c == '"') {
        i = stringEnd(s, i);
      } else if (s.startsWith(close, i)) {
        return i;
      } else {
        i++;
      }
    }
    return s.length();
  }

  /** Index just past the string literal that starts at {@code start}. */
  static int stringEnd(String s, int start) {
    char quote = s.charAt(start);
    int i = start + 1;
    while (i < s.length() && s.charAt(i) != quote) {
      i += s.charAt(i) == '\\' ? 2 : 1;
    }
    return Math.min(i + 1, s.length());
  }

  private static String rewriteCode(String code) {
    StringBuilder out = new StringBuilder(code.length());
    int i = 0;
    while (i < code.length()) {
      char c = code.charAt(i);
      if (c == '\'' || c == '"') {
        int end = stringEnd(code, i);
        out.append(code, i, end);
        i = end;
      } else if (c == '[') {
        int end = matchingBracket(code, i);
        List<String> parts = topLevelColonParts(code.substring(i + 1, end));
        if (parts.size() == 3 && end < code.length()) {
          out.append("|py_slice(");
          for (int p = 0; p < 3; p++) {
            String part = rewriteCode(parts.get(p)).strip();
            out.append(p > 0 ? ", " : "").append(part.isEmpty() ? "none" : part);
          }
          out.append(')');
          i = end + 1;
        } else {
          out.append(c);
          i++;
        }
      } else {
        out.append(c);
        i++;
      }
    }
    return out.toString();
  }

  private static int matchingBracket(String code, int open) {
    int depth = 0;
    int i = open;
    while (i < code.length()) {
      char c = code.charAt(i);
      if (c == '\'' || c == '"') {
        i = stringEnd(code, i);
        continue;
      }
      if (c == '[' || c == '(' || c == '{') {
        depth++;
      } else if (c == ']' || c == ')' || c == '}') {
        depth--;
        if (depth == 0) {
          return i;
        }
      }
      i++;
    }
    return code.length();
  }

  private static List<String> topLevelColonParts(String inside) {
    List<String> parts = new ArrayList<>();
    int depth = 0;
    int start = 0;
    int i = 0;
    while (i < inside.length()) {
      char c = inside.charAt(i);
      if (c == '\'' || c == '"') {
        i = stringEnd(inside, i);
        continue;
      }
      if (c == '[' || c == '(' || c == '{') {
        depth++;
      } else if (c == ']' || c == ')' || c == '}') {
        depth--;
      } else if (c == ':' && depth == 0) {
        parts.add(inside.substring(start, i));
        start = i + 1;
      }
      i++;
    }
    parts.add(inside.substring(start));
    return parts;
  }

  /** Python's {@code value[start:stop:step]} of a list or a string; nulls are omitted bounds. */
  public static Object slice(Object value, Object start, Object stop, Object step) {
    int st = bound(step) == null ? 1 : bound(step);
    if (st == 0) {
      throw new IllegalArgumentException("slice step cannot be zero");
    }
    List<Object> items = new ArrayList<>();
    String text = null;
    if (value instanceof CharSequence s) {
      text = s.toString();
    } else if (value instanceof Iterable<?> list) {
      list.forEach(items::add);
    } else {
      throw new IllegalArgumentException("cannot slice " + PythonValues.repr(value));
    }
    int length = text != null ? text.length() : items.size();
    int[] range = indices(bound(start), bound(stop), st, length);
    StringBuilder chars = new StringBuilder();
    List<Object> picked = new ArrayList<>();
    for (int k = range[0]; st > 0 ? k < range[1] : k > range[1]; k += st) {
      if (text != null) {
        chars.append(text.charAt(k));
      } else {
        picked.add(items.get(k));
      }
    }
    return text != null ? chars.toString() : new com.hubspot.jinjava.objects.collections.PyList(picked);
  }

  private static Integer bound(Object o) {
    return o == null || o == PythonValues.None.NONE ? null : ((Number) o).intValue();
  }

  /** CPython's {@code PySlice_AdjustIndices}. */
  private static int[] indices(Integer start, Integer stop, int step, int length) {
    int lower = step < 0 ? -1 : 0;
    int upper = step < 0 ? length - 1 : length;
    int s = start == null ? (step < 0 ? upper : lower) : clamp(start, length, lower, upper);
    int e = stop == null ? (step < 0 ? lower : upper) : clamp(stop, length, lower, upper);
    return new int[] {s, e};
  }

  private static int clamp(int index, int length, int lower, int upper) {
    if (index < 0) {
      return Math.max(index + length, lower);
    }
    return Math.min(index, upper);
  }
}
