package io.sparkformers.config;

import java.util.function.Predicate;

/** Which values of a key are valid (never called with null: a key's null means unset). */
public interface Validator<T> {
  boolean isValid(T value);

  /** The valid values, for documentation and errors, e.g. {@code "> 0"}. */
  String describe();

  static <T> Validator<T> of(String description, Predicate<? super T> test) {
    return new Validator<>() {
      @Override
      public boolean isValid(T value) {
        return test.test(value);
      }

      @Override
      public String describe() {
        return description;
      }
    };
  }

  /** Values greater than zero. */
  static <T extends Number> Validator<T> positive() {
    return of("> 0", v -> v.doubleValue() > 0);
  }

  /** Values at least {@code min}. */
  static <T extends Number> Validator<T> atLeast(double min) {
    return of(">= " + plain(min), v -> v.doubleValue() >= min);
  }

  /** Values from {@code min} to {@code max}, both included. */
  static <T extends Number> Validator<T> between(double min, double max) {
    return of("in [" + plain(min) + ", " + plain(max) + "]", v -> v.doubleValue() >= min && v.doubleValue() <= max);
  }

  private static String plain(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
  }
}
