package io.sparkformers.evaluate;

import java.io.Serializable;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A metric's named values, in the order the reference tool reports them. Values are {@code Double},
 * {@code Long}, {@code String}, {@code List} of those, or a nested {@code MetricResult}.
 */
public final class MetricResult implements Serializable {
  private static final long serialVersionUID = 1L;
  private final LinkedHashMap<String, Object> values;

  private MetricResult(LinkedHashMap<String, Object> values) {
    this.values = values;
  }

  public static Builder builder() {
    return new Builder();
  }

  public Object get(String key) {
    if (!values.containsKey(key)) {
      throw new IllegalArgumentException("no value named '" + key + "'; this result has " + values.keySet());
    }
    return values.get(key);
  }

  public boolean has(String key) {
    return values.containsKey(key);
  }

  public double getDouble(String key) {
    return ((Number) get(key)).doubleValue();
  }

  public long getLong(String key) {
    return ((Number) get(key)).longValue();
  }

  public String getString(String key) {
    return (String) get(key);
  }

  @SuppressWarnings("unchecked")
  public <T> List<T> getList(String key) {
    return (List<T>) get(key);
  }

  public MetricResult getResult(String key) {
    return (MetricResult) get(key);
  }

  public Map<String, Object> asMap() {
    return Collections.unmodifiableMap(values);
  }

  /** JSON, floats as the shortest text that reads back to the same double; NaN and Infinity as Python's json writes them. */
  public String toJson() {
    StringBuilder b = new StringBuilder();
    appendJson(b, this);
    return b.toString();
  }

  static void appendJson(StringBuilder b, Object v) {
    if (v == null) {
      b.append("null");
    } else if (v instanceof MetricResult) {
      b.append('{');
      boolean first = true;
      for (Map.Entry<String, Object> e : ((MetricResult) v).values.entrySet()) {
        if (!first) {
          b.append(", ");
        }
        first = false;
        appendString(b, e.getKey());
        b.append(": ");
        appendJson(b, e.getValue());
      }
      b.append('}');
    } else if (v instanceof List) {
      b.append('[');
      boolean first = true;
      for (Object x : (List<?>) v) {
        if (!first) {
          b.append(", ");
        }
        first = false;
        appendJson(b, x);
      }
      b.append(']');
    } else if (v instanceof Double || v instanceof Float) {
      double d = ((Number) v).doubleValue();
      if (Double.isNaN(d)) {
        b.append("NaN");
      } else if (Double.isInfinite(d)) {
        b.append(d > 0 ? "Infinity" : "-Infinity");
      } else {
        b.append(d);
      }
    } else if (v instanceof Number || v instanceof Boolean) {
      b.append(v);
    } else {
      appendString(b, v.toString());
    }
  }

  static void appendString(StringBuilder b, String s) {
    b.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"':
          b.append("\\\"");
          break;
        case '\\':
          b.append("\\\\");
          break;
        case '\n':
          b.append("\\n");
          break;
        case '\t':
          b.append("\\t");
          break;
        case '\r':
          b.append("\\r");
          break;
        default:
          if (c < 0x20) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
      }
    }
    b.append('"');
  }

  @Override
  public String toString() {
    return toJson();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof MetricResult && ((MetricResult) o).values.equals(values);
  }

  @Override
  public int hashCode() {
    return values.hashCode();
  }

  /** Collects values in order. */
  public static final class Builder {
    private final LinkedHashMap<String, Object> values = new LinkedHashMap<>();

    public Builder put(String key, Object value) {
      values.put(key, value);
      return this;
    }

    public MetricResult build() {
      return new MetricResult(new LinkedHashMap<>(values));
    }
  }
}
