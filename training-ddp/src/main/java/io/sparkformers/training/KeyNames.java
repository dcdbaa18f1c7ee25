package io.sparkformers.training;

import java.util.Collection;

/**
 * Nearest-name suggestions for errors about unknown configuration keys and names; kept for code that used it
 * from here: the implementation is {@link io.sparkformers.config.KeyNames}.
 */
public final class KeyNames {
  private KeyNames() {}

  /** {@code " — did you mean 'x'?"} for the valid name closest to {@code given}, or "" when none is close. */
  public static String didYouMean(String given, Collection<String> valid) {
    return io.sparkformers.config.KeyNames.didYouMean(given, valid);
  }

  /** The valid name with the smallest edit distance to {@code given}, if within half its length (at least 2). */
  public static String nearest(String given, Collection<String> valid) {
    return io.sparkformers.config.KeyNames.nearest(given, valid);
  }

  /** Levenshtein distance (insertions, deletions, substitutions). */
  public static int distance(String a, String b) {
    return io.sparkformers.config.KeyNames.distance(a, b);
  }
}
