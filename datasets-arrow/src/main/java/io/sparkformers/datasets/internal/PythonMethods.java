package io.sparkformers.datasets.internal;

import com.hubspot.jinjava.el.TypeConvertingMapELResolver;
import com.hubspot.jinjava.el.ext.JinjavaBeanELResolver;
import com.hubspot.jinjava.el.ext.JinjavaListELResolver;
import com.hubspot.jinjava.objects.SafeString;
import com.hubspot.jinjava.objects.collections.PyList;
import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import jinjava.javax.el.ArrayELResolver;
import jinjava.javax.el.CompositeELResolver;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

/**
 * The Python {@code str} and {@code dict} methods chat templates call ({@code content.strip()},
 * {@code role.startswith('a')}, {@code message.get('tool_calls', [])}, {@code tool.keys()}): jinjava resolves
 * method calls on Java objects only, so {@code 'x'.strip()} would be Java's and {@code 'x'.upper()} an error.
 * Placed before jinjava's own resolvers; calls it does not know fall through to them.
 */
public final class PythonMethods extends ELResolver {

  /** jinjava's read-only resolver chain with the Python methods in front. */
  public static ELResolver resolverChain() {
    CompositeELResolver chain = new CompositeELResolver();
    chain.add(new PythonMethods());
    chain.add(new ArrayELResolver(true));
    chain.add(new JinjavaListELResolver(true));
    chain.add(new TypeConvertingMapELResolver(true));
    chain.add(new JinjavaBeanELResolver(true));
    return chain;
  }

  @Override
  public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
    if (base == null || method == null) {
      return null;
    }
    Object[] args = params == null ? new Object[0] : params;
    Object result;
    if (base instanceof String || base instanceof SafeString) {
      result = stringMethod(base.toString(), method.toString(), args);
    } else if (base instanceof Map<?, ?> map) {
      result = dictMethod(map, method.toString(), args);
    } else {
      return null;
    }
    if (result == NOT_HANDLED) {
      return null;
    }
    context.setPropertyResolved(true);
    return result;
  }

  private static final Object NOT_HANDLED = new Object();

  private static Object stringMethod(String s, String name, Object[] args) {
    switch (name) {
      case "strip", "lstrip", "rstrip" -> {
        String chars = args.length > 0 && args[0] != null && args[0] != PythonValues.None.NONE
            ? args[0].toString() : null;
        return PythonValues.strip(s, chars, !name.equals("rstrip"), !name.equals("lstrip"));
      }
      case "upper" -> {
        return s.toUpperCase(Locale.ROOT);
      }
      case "lower" -> {
        return s.toLowerCase(Locale.ROOT);
      }
      case "title" -> {
        return title(s);
      }
      case "capitalize" -> {
        return s.isEmpty() ? s : s.substring(0, 1).toUpperCase(Locale.ROOT) + s.substring(1).toLowerCase(Locale.ROOT);
      }
      case "startswith", "endswith" -> {
        if (args.length != 1) {
          return NOT_HANDLED;
        }
        List<Object> candidates = args[0] instanceof Iterable<?> it ? toList(it) : List.of(args[0]);
        for (Object c : candidates) {
          String t = String.valueOf(c);
          if (name.equals("startswith") ? s.startsWith(t) : s.endsWith(t)) {
            return true;
          }
        }
        return false;
      }
      case "split" -> {
        String sep = args.length > 0 && args[0] != null && args[0] != PythonValues.None.NONE ? args[0].toString() : null;
        int max = args.length > 1 ? ((Number) args[1]).intValue() : -1;
        return new PyList(split(s, sep, max));
      }
      case "replace" -> {
        if (args.length < 2) {
          return NOT_HANDLED;
        }
        String old = String.valueOf(args[0]);
        String by = String.valueOf(args[1]);
        int count = args.length > 2 ? ((Number) args[2]).intValue() : -1;
        if (count < 0) {
          return s.replace(old, by);
        }
        StringBuilder out = new StringBuilder();
        int from = 0;
        for (int i = 0; i < count; i++) {
          int at = s.indexOf(old, from);
          if (at < 0) {
            break;
          }
          out.append(s, from, at).append(by);
          from = at + old.length();
        }
        return out.append(s.substring(from)).toString();
      }
      case "join" -> {
        if (args.length != 1 || !(args[0] instanceof Iterable<?> items)) {
          return NOT_HANDLED;
        }
        List<String> parts = new ArrayList<>();
        items.forEach(i -> parts.add(PythonValues.str(i)));
        return String.join(s, parts);
      }
      case "format" -> {
        return format(s, args);
      }
      case "find" -> {
        return args.length == 1 ? (long) s.indexOf(String.valueOf(args[0])) : NOT_HANDLED;
      }
      case "count" -> {
        if (args.length != 1) {
          return NOT_HANDLED;
        }
        String t = String.valueOf(args[0]);
        if (t.isEmpty()) {
          return (long) s.length() + 1;
        }
        long n = 0;
        for (int at = s.indexOf(t); at >= 0; at = s.indexOf(t, at + t.length())) {
          n++;
        }
        return n;
      }
      default -> {
        return NOT_HANDLED;
      }
    }
  }

  /** Python's {@code str.format} for {@code {}}, {@code {0}} and {@code {{ }}}; anything richer is refused. */
  private static String format(String s, Object[] args) {
    StringBuilder out = new StringBuilder();
    int next = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if ((c == '{' || c == '}') && i + 1 < s.length() && s.charAt(i + 1) == c) {
        out.append(c);
        i++;
      } else if (c == '{') {
        int close = s.indexOf('}', i);
        String field = close < 0 ? "?" : s.substring(i + 1, close);
        int index;
        if (field.isEmpty()) {
          index = next++;
        } else if (field.matches("[0-9]+")) {
          index = Integer.parseInt(field);
        } else {
          throw new PythonExpressions.TemplateRuntimeError("str.format field {" + field + "} is not supported");
        }
        if (index >= args.length) {
          throw new PythonExpressions.TemplateRuntimeError("Replacement index " + index + " out of range for "
              + "positional args tuple");
        }
        out.append(PythonValues.str(args[index]));
        i = close;
      } else {
        out.append(c);
      }
    }
    return out.toString();
  }

  private static Object dictMethod(Map<?, ?> map, String name, Object[] args) {
    switch (name) {
      case "get" -> {
        if (args.length == 0 || args.length > 2) {
          return NOT_HANDLED;
        }
        Object key = args[0] == null ? null : args[0].toString();
        Object fallback = args.length == 2 ? args[1] : PythonValues.None.NONE;
        return map.containsKey(key) ? map.get(key) : fallback;
      }
      case "keys" -> {
        return args.length == 0 ? new PyList(new ArrayList<>(map.keySet())) : NOT_HANDLED;
      }
      case "values" -> {
        return args.length == 0 ? new PyList(new ArrayList<>(map.values())) : NOT_HANDLED;
      }
      case "items" -> {
        return args.length == 0 ? new PyList(new ArrayList<>(map.entrySet())) : NOT_HANDLED;
      }
      default -> {
        return NOT_HANDLED;
      }
    }
  }

  private static List<Object> toList(Iterable<?> items) {
    List<Object> list = new ArrayList<>();
    items.forEach(list::add);
    return list;
  }

  /** Python's {@code str.split(sep, maxsplit)}: no separator splits on runs of whitespace and drops empty parts. */
  private static List<Object> split(String s, String sep, int max) {
    List<Object> parts = new ArrayList<>();
    if (sep == null) {
      int i = 0;
      int n = s.length();
      while (true) {
        while (i < n && PythonValues.isSpace(s.charAt(i))) {
          i++;
        }
        if (i >= n) {
          break;
        }
        if (max >= 0 && parts.size() == max) {
          parts.add(PythonValues.strip(s.substring(i), null, false, true));
          break;
        }
        int j = i;
        while (j < n && !PythonValues.isSpace(s.charAt(j))) {
          j++;
        }
        parts.add(s.substring(i, j));
        i = j;
      }
      return parts;
    }
    if (sep.isEmpty()) {
      throw new IllegalArgumentException("empty separator");
    }
    int from = 0;
    while (max < 0 || parts.size() < max) {
      int at = s.indexOf(sep, from);
      if (at < 0) {
        break;
      }
      parts.add(s.substring(from, at));
      from = at + sep.length();
    }
    parts.add(s.substring(from));
    return parts;
  }

  /** Python's {@code str.title()}: a letter after a non-letter is upper-cased, every other letter lower-cased. */
  private static String title(String s) {
    StringBuilder out = new StringBuilder(s.length());
    boolean previousIsLetter = false;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      out.append(previousIsLetter ? Character.toLowerCase(c) : Character.toTitleCase(c));
      previousIsLetter = Character.isLetter(c);
    }
    return out.toString();
  }

  /** {@code text[i]}: jinjava indexes lists only; Python indexes strings too, negative from the end. */
  @Override
  public Object getValue(ELContext context, Object base, Object property) {
    // jinjava hands the index over as text ("-1").
    if ((base instanceof String || base instanceof SafeString) && property != null
        && property.toString().matches("-?[0-9]{1,9}")) {
      String s = base.toString();
      long n = Long.parseLong(property.toString());
      long i = n < 0 ? s.length() + n : n;
      context.setPropertyResolved(true);
      return i >= 0 && i < s.length() ? String.valueOf(s.charAt((int) i)) : null;
    }
    return null;
  }

  @Override
  public Class<?> getType(ELContext context, Object base, Object property) {
    return null;
  }

  @Override
  public void setValue(ELContext context, Object base, Object property, Object value) {}

  @Override
  public boolean isReadOnly(ELContext context, Object base, Object property) {
    return true;
  }

  @Override
  public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
    return null;
  }

  @Override
  public Class<?> getCommonPropertyType(ELContext context, Object base) {
    return null;
  }
}
