package io.sparkformers.config;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The value types of config keys. Numbers, booleans and enums also read from strings ({@code --set}). */
public final class ConfigTypes {
  private ConfigTypes() {}

  /** Any scalar, as its string. */
  public static final ConfigType<String> STRING = simple("string", "a string", raw -> {
    if (raw instanceof Map || raw instanceof List) {
      throw new ConfigType.Mismatch(null);
    }
    return raw.toString();
  });

  /** {@code true} or {@code false}, in any case. */
  public static final ConfigType<Boolean> BOOLEAN = simple("boolean", "true or false", raw -> {
    if (raw instanceof Boolean b) {
      return b;
    }
    String s = raw.toString().trim().toLowerCase(Locale.ROOT);
    if (s.equals("true") || s.equals("false")) {
      return Boolean.parseBoolean(s);
    }
    throw new ConfigType.Mismatch(null);
  });

  /** A whole number (not 2.0: a fraction where a count belongs is a mistake) that fits 64 bits. */
  public static final ConfigType<Long> LONG = simple("long", "an integer", ConfigTypes::wholeNumber);

  /** A whole number that fits 32 bits. */
  public static final ConfigType<Integer> INT = simple("int", "an integer", raw -> {
    long v = wholeNumber(raw);
    if (v != (int) v) {
      throw new ConfigType.Mismatch("expected an integer that fits 32 bits, got '" + raw + "'");
    }
    return (int) v;
  });

  /** Any number, including NaN and infinities written as Java parses them. */
  public static final ConfigType<Double> DOUBLE = simple("double", "a number", raw -> {
    if (raw instanceof Number n) {
      return n.doubleValue();
    }
    if (raw instanceof Map || raw instanceof List) {
      throw new ConfigType.Mismatch(null);
    }
    try {
      return Double.parseDouble(raw.toString().trim());
    } catch (NumberFormatException e) {
      throw new ConfigType.Mismatch(null);
    }
  });

  /** A list of scalars, as strings. */
  public static final ConfigType<List<String>> STRING_LIST = simple("list", "a list", raw -> {
    if (!(raw instanceof List<?> l)) {
      throw new ConfigType.Mismatch(null);
    }
    List<String> out = new ArrayList<>();
    for (Object o : l) {
      if (o == null || o instanceof Map || o instanceof List) {
        throw new ConfigType.Mismatch(null);
      }
      out.add(o.toString());
    }
    return List.copyOf(out);
  });

  /** A mapping (a nested section of a config file), keys as strings; values as the file holds them. */
  public static final ConfigType<Map<String, Object>> MAP = simple("map", "a mapping", raw -> {
    if (!(raw instanceof Map<?, ?> m)) {
      throw new ConfigType.Mismatch(null);
    }
    Map<String, Object> out = new LinkedHashMap<>();
    m.forEach((k, v) -> out.put(String.valueOf(k), v));
    return out;
  });

  /**
   * One of an enum's {@link ConfigEnum#value() values}. A constant whose value is {@code no} also reads from
   * {@code false}: YAML 1.1 (PyYAML, SnakeYAML) reads an unquoted {@code no} as false.
   */
  public static <E extends Enum<E> & ConfigEnum> ConfigType<E> enumOf(Class<E> type) {
    E[] constants = type.getEnumConstants();
    String values = String.join(", ", Arrays.stream(constants).map(ConfigEnum::value).toList());
    return new ConfigType<>() {
      @Override
      public String name() {
        return "enum: " + values;
      }

      @Override
      public String expected() {
        return "one of [" + values + "]";
      }

      @Override
      public E parse(Object raw) {
        String s = Boolean.FALSE.equals(raw) ? "no" : raw.toString();
        try {
          return parseEnum(type, s);
        } catch (IllegalArgumentException e) {
          throw new Mismatch(e.getMessage());
        }
      }

      @Override
      public Object external(E value) {
        return value.value();
      }
    };
  }

  /**
   * The constant of {@code type} whose value is {@code s}, or an error as transformers words it: {@code "cosin is
   * not a valid SchedulerType, please select one of [linear, cosine, ...] — did you mean 'cosine'?"}.
   */
  public static <E extends Enum<E> & ConfigEnum> E parseEnum(Class<E> type, String s) {
    List<String> values = new ArrayList<>();
    for (E e : type.getEnumConstants()) {
      if (e.value().equals(s)) {
        return e;
      }
      values.add(e.value());
    }
    throw new IllegalArgumentException(s + " is not a valid " + type.getSimpleName() + ", please select one of "
        + values + (s == null ? "" : KeyNames.didYouMean(s, values)));
  }

  private static long wholeNumber(Object raw) {
    if (raw instanceof Integer || raw instanceof Long || raw instanceof Short || raw instanceof Byte) {
      return ((Number) raw).longValue();
    }
    if (raw instanceof Map || raw instanceof List) {
      throw new ConfigType.Mismatch(null);
    }
    try {
      return Long.parseLong(raw.toString().trim());
    } catch (NumberFormatException e) {
      throw new ConfigType.Mismatch(null);
    }
  }

  /** A type from its documentation name, the phrase of its errors and its conversion. */
  public static <T> ConfigType<T> simple(String name, String expected, java.util.function.Function<Object, T> parse) {
    return new ConfigType<>() {
      @Override
      public String name() {
        return name;
      }

      @Override
      public String expected() {
        return expected;
      }

      @Override
      public T parse(Object raw) {
        return parse.apply(raw);
      }
    };
  }
}
