package io.sparkformers.config;

/**
 * How a key's value is read from what a config file (YAML, JSON, {@code --set key=value}) holds: the raw object
 * is a String, Number, Boolean, List or Map. {@link ConfigTypes} has the common ones.
 *
 * @param <T> the Java type of the value
 */
public interface ConfigType<T> {

  /** The type's name in documentation: {@code int}, {@code double}, {@code string}, ... */
  String name();

  /** What a value must look like, for errors: {@code "an integer"}, {@code "true or false"}. */
  String expected();

  /**
   * The value {@code raw} holds (never null here).
   *
   * @throws Mismatch when it holds none of this type
   */
  T parse(Object raw);

  /** The value as a config file writes it (an enum's string); the value itself by default. */
  default Object external(T value) {
    return value;
  }

  /**
   * A raw value this type cannot read. {@code problem} is a complete description when the type has a better
   * one than "expected ..., got ..." (an enum lists its values); otherwise null.
   */
  final class Mismatch extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final String problem;

    public Mismatch(String problem) {
      super(problem, null, false, false);
      this.problem = problem;
    }

    public String problem() {
      return problem;
    }
  }
}
