package io.sparkformers.config;

import java.util.Objects;
import java.util.function.BiFunction;

/**
 * One configuration key, declared once: name, type, default, validator, documentation and group. Keys are
 * made by {@link ConfigDef#define}; immutable.
 *
 * <p>A key whose default is null (and that is not {@link Builder#required() required}) is optional: null, and
 * the strings {@code null} and {@code None} (what Python writes), unset it.
 *
 * @param <T> the Java type of the value
 */
public final class ConfigKey<T> {
  private final String prefix;
  private final String name;
  private final ConfigType<T> type;
  private final T defaultValue;
  private final String defaultDoc;
  private final boolean required;
  private final Validator<? super T> validator;
  private final String expected;
  private final BiFunction<String, T, String> invalidMessage;
  private final String doc;
  private final String group;

  private ConfigKey(String prefix, Builder<T> b) {
    this.prefix = prefix;
    this.name = b.name;
    this.type = b.type;
    this.defaultValue = b.defaultValue;
    this.defaultDoc = b.defaultDoc;
    this.required = b.required;
    this.validator = b.validator;
    this.expected = b.expected;
    this.invalidMessage = b.invalidMessage;
    this.doc = Objects.requireNonNull(b.doc, () -> "key " + b.name + " has no documentation");
    this.group = b.group;
    if (defaultValue != null && validator != null && !validator.isValid(defaultValue)) {
      throw new IllegalStateException("key " + path() + ": default " + defaultValue + " is not "
          + validator.describe());
    }
  }

  /** Starts the declaration of a key named {@code name} (as a config file spells it) of type {@code type}. */
  public static <T> Builder<T> builder(String name, ConfigType<T> type) {
    return new Builder<>(name, type);
  }

  /** The key as a config file spells it within its section. */
  public String name() {
    return name;
  }

  /** The key with its section, as errors and documentation name it ({@code data.block_size}). */
  public String path() {
    return prefix.isEmpty() ? name : prefix + "." + name;
  }

  public ConfigType<T> type() {
    return type;
  }

  /** The default, or null when the key is optional or required. */
  public T defaultValue() {
    return defaultValue;
  }

  public boolean required() {
    return required;
  }

  /** The default as the documentation states it: the declared wording, the value, "required" or "none". */
  public String defaultText() {
    if (defaultDoc != null) {
      return defaultDoc;
    }
    if (required) {
      return "required";
    }
    return defaultValue == null ? "none" : String.valueOf(type.external(defaultValue));
  }

  public String doc() {
    return doc;
  }

  public String group() {
    return group;
  }

  /** What a value of the key looks like, for errors: the declared phrase, or the type's. */
  public String expected() {
    return expected != null ? expected : type.expected();
  }

  /** What a valid value looks like: the declared phrase, or the type's and the validator's. */
  public String expectedValid() {
    return expected != null || validator == null ? expected() : type.expected() + " " + validator.describe();
  }

  /** The value of {@code raw} converted and checked; errors name {@code where} and the key. */
  public T parse(String where, Object raw) {
    T value = convert(where, raw);
    String problem = problem(value);
    if (problem != null) {
      throw new ConfigException(where + ": " + problem);
    }
    return value;
  }

  /** The value of {@code raw} converted to the key's type, not yet validated (a builder checks at build). */
  public T convert(String where, Object raw) {
    if (raw == null || (!required && defaultValue == null && raw instanceof String s
        && (s.equals("null") || s.equals("None")))) {
      if (!required && defaultValue == null) {
        return null;
      }
      throw new ConfigException(where + ": key '" + path() + "': expected " + expected() + ", got '" + raw + "'");
    }
    try {
      return type.parse(raw);
    } catch (ConfigType.Mismatch m) {
      throw new ConfigException(where + ": key '" + path() + "': "
          + (m.problem() != null ? m.problem() : "expected " + expected() + ", got '" + raw + "'"));
    }
  }

  /** Why {@code value} is invalid for this key, or null when it is valid (null, unset, is valid). */
  public String problem(T value) {
    if (value == null || validator == null || validator.isValid(value)) {
      return null;
    }
    return invalidMessage != null ? invalidMessage.apply(path(), value)
        : "key '" + path() + "': expected " + expectedValid() + ", got '" + type.external(value) + "'";
  }

  /** The value (of this key's type) as a config file writes it (enums as their strings). */
  public Object external(Object value) {
    return value == null ? null : type.external(cast(value));
  }

  @SuppressWarnings("unchecked")
  private T cast(Object value) {
    return (T) value;
  }

  @Override
  public String toString() {
    return path();
  }

  /** Declares a key; {@link ConfigDef#define} builds it. */
  public static final class Builder<T> {
    private final String name;
    private final ConfigType<T> type;
    private T defaultValue;
    private String defaultDoc;
    private boolean required;
    private Validator<? super T> validator;
    private String expected;
    private BiFunction<String, T, String> invalidMessage;
    private String doc;
    private String group = "";

    private Builder(String name, ConfigType<T> type) {
      this.name = Objects.requireNonNull(name, "name");
      this.type = Objects.requireNonNull(type, "type");
    }

    public Builder<T> defaultValue(T value) {
      this.defaultValue = value;
      return this;
    }

    /** How the documentation states a default that is not a fixed value ("local[world_size]"). */
    public Builder<T> defaultDoc(String text) {
      this.defaultDoc = text;
      return this;
    }

    /** The key must be given: it has no default, and null is not a value. */
    public Builder<T> required() {
      this.required = true;
      return this;
    }

    public Builder<T> validator(Validator<? super T> validator) {
      this.validator = validator;
      return this;
    }

    /** The phrase errors use for a valid value ("a fraction in (0, 1)"), instead of type and validator's. */
    public Builder<T> expected(String phrase) {
      this.expected = phrase;
      return this;
    }

    /** The whole message for a value the validator refuses, from the key's path and the value. */
    public Builder<T> invalidMessage(BiFunction<String, T, String> message) {
      this.invalidMessage = message;
      return this;
    }

    public Builder<T> doc(String doc) {
      this.doc = doc;
      return this;
    }

    /** The heading the key is listed under in documentation. */
    public Builder<T> group(String group) {
      this.group = Objects.requireNonNull(group, "group");
      return this;
    }

    ConfigKey<T> build(String prefix) {
      if (required && defaultValue != null) {
        throw new IllegalStateException("key " + name + " is required and has a default");
      }
      return new ConfigKey<>(prefix, this);
    }
  }
}
