package io.sparkformers.datasets.internal;

import io.sparkformers.datasets.ColumnType;
import java.util.ArrayList;
import java.util.List;

/** Value conversions of {@code Dataset.castColumn}: safe casts in pyarrow's sense (no silent truncation). */
public final class Casts {
  private Casts() {}

  public static Object cast(Object value, ColumnType to) {
    if (value == null) {
      return null;
    }
    if (to.isList()) {
      List<Object> out = new ArrayList<>();
      for (Object item : asList(value)) {
        out.add(cast(item, to.elementType()));
      }
      return out;
    }
    if (to == ColumnType.STRING) {
      return value instanceof Object[] ? List.of((Object[]) value).toString() : String.valueOf(value);
    }
    if (value instanceof String) {
      String s = ((String) value).trim();
      switch (to) {
        case BOOL:
          if (s.equalsIgnoreCase("true")) {
            return true;
          }
          if (s.equalsIgnoreCase("false")) {
            return false;
          }
          throw new IllegalArgumentException("'" + s + "' is not a boolean");
        case INT32: return Integer.parseInt(s);
        case INT64: return Long.parseLong(s);
        case FLOAT32: return Float.parseFloat(s);
        case FLOAT64: return Double.parseDouble(s);
        default: break;
      }
    }
    if (value instanceof Boolean) {
      int b = (Boolean) value ? 1 : 0;
      switch (to) {
        case BOOL: return value;
        case INT32: return b;
        case INT64: return (long) b;
        case FLOAT32: return (float) b;
        case FLOAT64: return (double) b;
        default: break;
      }
    }
    if (value instanceof Number) {
      Number n = (Number) value;
      switch (to) {
        case BOOL: return n.doubleValue() != 0;
        case INT32: return Math.toIntExact(integral(n));
        case INT64: return integral(n);
        case FLOAT32: return n.floatValue();
        case FLOAT64: return n.doubleValue();
        default: break;
      }
    }
    throw new IllegalArgumentException("Cannot cast " + ArrowValues.describe(value) + " to " + to);
  }

  private static long integral(Number n) {
    if (n instanceof Double || n instanceof Float) {
      double d = n.doubleValue();
      if (d != Math.rint(d) || Double.isInfinite(d)) {
        throw new IllegalArgumentException("Float value " + d + " was truncated converting to an integer");
      }
      return (long) d;
    }
    return n.longValue();
  }

  private static List<?> asList(Object value) {
    if (value instanceof List) {
      return (List<?>) value;
    }
    List<Object> out = new ArrayList<>();
    int n = java.lang.reflect.Array.getLength(value);
    for (int i = 0; i < n; i++) {
      out.add(java.lang.reflect.Array.get(value, i));
    }
    return out;
  }
}
