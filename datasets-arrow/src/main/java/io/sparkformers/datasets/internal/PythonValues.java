package io.sparkformers.datasets.internal;

import com.hubspot.jinjava.objects.collections.PyList;
import com.hubspot.jinjava.objects.collections.PyMap;
import com.hubspot.jinjava.util.HasObjectTruthValue;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Values as Python shows them, for chat templates: Jinja2 prints {@code str(value)} ({@code True}, {@code None},
 * {@code ['a', 1]}, {@code {'k': 'v'}}) and transformers' {@code tojson} is {@code json.dumps} with its default
 * separators, where Java and jinjava would print {@code true}, {@code [a, 1]}, {@code {k=v}} and compact JSON.
 */
public final class PythonValues {
  private PythonValues() {}

  /**
   * Python's {@code None} inside template data: a JSON {@code null} (a message's {@code "content": null}) is
   * defined, falsy and prints {@code None} in Jinja2, while jinjava treats a Java null as undefined.
   */
  public static final class None implements HasObjectTruthValue {
    /** The one None (a class, not an enum: jinjava's {@code ~} would print an enum's name, "NONE"). */
    public static final None NONE = new None();

    private None() {}

    @Override
    public boolean getObjectTruthValue() {
      return false;
    }

    @Override
    public String toString() {
      return "None";
    }
  }

  /** Deep copy of caller data into what templates see: maps and lists jinjava can use, nulls as {@link None}. */
  @SuppressWarnings("unchecked")
  public static Object toTemplateValue(Object value) {
    if (value == null) {
      return None.NONE;
    }
    if (value instanceof Map<?, ?> map) {
      Map<String, Object> copy = new LinkedHashMap<>();
      map.forEach((k, v) -> copy.put(String.valueOf(k), toTemplateValue(v)));
      return new PyMap(copy);
    }
    if (value instanceof Collection<?> list) {
      List<Object> copy = new ArrayList<>(list.size());
      list.forEach(v -> copy.add(toTemplateValue(v)));
      return new PyList(copy);
    }
    if (value instanceof Object[] array) {
      return toTemplateValue(List.of(array));
    }
    return value;
  }

  /** Python's {@code str(value)}; a Java null is Jinja2's Undefined, which prints as nothing. */
  public static String str(Object value) {
    if (value == null) {
      return "";
    }
    if (value instanceof CharSequence s) {
      return s.toString();
    }
    return repr(value);
  }

  /** Python's {@code repr(value)}, as {@code str} shows the items of lists and dicts. */
  public static String repr(Object value) {
    StringBuilder out = new StringBuilder();
    appendRepr(out, value);
    return out.toString();
  }

  private static void appendRepr(StringBuilder out, Object value) {
    if (value == null || value == None.NONE) {
      out.append("None");
    } else if (value instanceof Boolean b) {
      out.append(b ? "True" : "False");
    } else if (value instanceof CharSequence s) {
      appendStringRepr(out, s.toString());
    } else if (value instanceof Number n) {
      out.append(number(n));
    } else if (value instanceof Map<?, ?> map) {
      out.append('{');
      boolean first = true;
      for (Map.Entry<?, ?> e : map.entrySet()) {
        out.append(first ? "" : ", ");
        appendRepr(out, e.getKey());
        out.append(": ");
        appendRepr(out, e.getValue());
        first = false;
      }
      out.append('}');
    } else if (value instanceof Map.Entry<?, ?> e) {
      out.append('(');
      appendRepr(out, e.getKey());
      out.append(", ");
      appendRepr(out, e.getValue());
      out.append(')');
    } else if (value instanceof Iterable<?> list) {
      out.append('[');
      boolean first = true;
      for (Object item : list) {
        out.append(first ? "" : ", ");
        appendRepr(out, item);
        first = false;
      }
      out.append(']');
    } else {
      out.append(value);
    }
  }

  /** Python quotes with ' unless the text holds ' and no ". */
  private static void appendStringRepr(StringBuilder out, String s) {
    char quote = s.indexOf('\'') >= 0 && s.indexOf('"') < 0 ? '"' : '\'';
    out.append(quote);
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          if (c == quote) {
            out.append('\\').append(c);
          } else if (c < 0x20 || c == 0x7f) {
            out.append(String.format("\\x%02x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    out.append(quote);
  }

  /** Integers as they are; floats as Python's shortest repr ({@code 1.0}, {@code 1e-05}, {@code 1.5e+20}). */
  public static String number(Number n) {
    if (n instanceof Integer || n instanceof Long || n instanceof Short || n instanceof Byte
        || n instanceof BigInteger) {
      return n.toString();
    }
    if (n instanceof BigDecimal d && d.scale() <= 0 && d.stripTrailingZeros().scale() <= 0
        && !(d.toString().contains("."))) {
      return d.toBigInteger().toString();
    }
    double d = n.doubleValue();
    if (Double.isNaN(d)) {
      return "nan";
    }
    if (Double.isInfinite(d)) {
      return d > 0 ? "inf" : "-inf";
    }
    if (d == 0) {
      return (1 / d < 0) ? "-0.0" : "0.0";
    }
    BigDecimal exact = new BigDecimal(Double.toString(d)).stripTrailingZeros();
    String digits = exact.unscaledValue().abs().toString();
    int exponent = digits.length() - 1 - exact.scale(); // decimal exponent of the first digit
    String sign = d < 0 ? "-" : "";
    if (exponent < -4 || exponent >= 16) {
      String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
      String exp = String.format("%02d", Math.abs(exponent));
      return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + exp;
    }
    String plain = exact.abs().toPlainString();
    return sign + (plain.contains(".") ? plain : plain + ".0");
  }

  /**
   * transformers' {@code tojson}: {@code json.dumps(value, ensure_ascii=False, indent=indent, sort_keys=False)},
   * so ", " and ": " between items ("," before a newline when indented) and non-ASCII text kept as it is.
   */
  public static String toJson(Object value, String indent) {
    StringBuilder out = new StringBuilder();
    appendJson(out, value, indent, 0);
    return out.toString();
  }

  private static void appendJson(StringBuilder out, Object value, String indent, int depth) {
    if (value == null || value == None.NONE) {
      out.append("null");
    } else if (value instanceof Boolean b) {
      out.append(b ? "true" : "false");
    } else if (value instanceof CharSequence s) {
      appendJsonString(out, s.toString());
    } else if (value instanceof Number n) {
      double d = n.doubleValue();
      out.append(Double.isNaN(d) ? "NaN" : Double.isInfinite(d) ? (d > 0 ? "Infinity" : "-Infinity") : number(n));
    } else if (value instanceof Map<?, ?> map) {
      if (map.isEmpty()) {
        out.append("{}");
        return;
      }
      out.append('{');
      boolean first = true;
      for (Map.Entry<?, ?> e : map.entrySet()) {
        separator(out, first, indent, depth + 1);
        Object key = e.getKey();
        appendJsonString(out, key instanceof CharSequence ? key.toString() : toJson(key, null));
        out.append(": ");
        appendJson(out, e.getValue(), indent, depth + 1);
        first = false;
      }
      close(out, indent, depth);
      out.append('}');
    } else if (value instanceof Iterable<?> list) {
      if (!list.iterator().hasNext()) {
        out.append("[]");
        return;
      }
      out.append('[');
      boolean first = true;
      for (Object item : list) {
        separator(out, first, indent, depth + 1);
        appendJson(out, item, indent, depth + 1);
        first = false;
      }
      close(out, indent, depth);
      out.append(']');
    } else {
      appendJsonString(out, String.valueOf(value));
    }
  }

  private static void separator(StringBuilder out, boolean first, String indent, int depth) {
    if (indent == null) {
      out.append(first ? "" : ", ");
    } else {
      out.append(first ? "" : ",").append('\n').append(indent.repeat(depth));
    }
  }

  private static void close(StringBuilder out, String indent, int depth) {
    if (indent != null) {
      out.append('\n').append(indent.repeat(depth));
    }
  }

  private static void appendJsonString(StringBuilder out, String s) {
    out.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        case '\b' -> out.append("\\b");
        case '\f' -> out.append("\\f");
        default -> {
          if (c < 0x20) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    out.append('"');
  }

  /**
   * Python's {@code bool(value)}: jinjava's own truth also calls the strings "false" and "FALSE" false, so a
   * message whose content is "false" would vanish from {@code {% if message.content %}}.
   */
  public static boolean truthy(Object value) {
    if (value instanceof CharSequence s) {
      return s.length() > 0;
    }
    if (value instanceof com.hubspot.jinjava.objects.SafeString s) {
      return !s.toString().isEmpty();
    }
    return com.hubspot.jinjava.util.ObjectTruthValue.evaluate(value);
  }

  /** Python's {@code str.isspace()} for one character. */
  public static boolean isSpace(char c) {
    return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == '\u0085' || (c >= 0x1c && c <= 0x1f);
  }

  /** Python's {@code str.strip(chars)}; {@code chars} null strips whitespace. */
  public static String strip(String s, String chars, boolean left, boolean right) {
    int start = 0;
    int end = s.length();
    while (left && start < end && stripped(s.charAt(start), chars)) {
      start++;
    }
    while (right && end > start && stripped(s.charAt(end - 1), chars)) {
      end--;
    }
    return s.substring(start, end);
  }

  private static boolean stripped(char c, String chars) {
    return chars == null ? isSpace(c) : chars.indexOf(c) >= 0;
  }
}
