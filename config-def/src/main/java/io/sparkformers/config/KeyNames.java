package io.sparkformers.config;

import java.util.Collection;

/** Nearest-name suggestions for errors about unknown configuration keys and names. */
public final class KeyNames {
  private KeyNames() {}

  /** {@code " — did you mean 'x'?"} for the valid name closest to {@code given}, or "" when none is close. */
  public static String didYouMean(String given, Collection<String> valid) {
    String best = nearest(given, valid);
    return best == null ? "" : " — did you mean '" + best + "'?";
  }

  /** The valid name with the smallest edit distance to {@code given}, if within half its length (at least 2). */
  public static String nearest(String given, Collection<String> valid) {
    String best = null;
    int bestDistance = Integer.MAX_VALUE;
    for (String v : valid) {
      int d = distance(given, v);
      if (d < bestDistance) {
        bestDistance = d;
        best = v;
      }
    }
    return best != null && bestDistance <= Math.max(2, given.length() / 2) ? best : null;
  }

  /** Levenshtein distance (insertions, deletions, substitutions). */
  public static int distance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
        cur[j] = Math.min(sub, Math.min(prev[j] + 1, cur[j - 1] + 1));
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }
}
