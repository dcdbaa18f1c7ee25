package io.sparkformers.training.models.internal;

import java.util.Arrays;

/**
 * transformers' logits processors and warpers on one row of scores (float32, in place), in the order
 * {@code generate} applies them: repetition penalty, temperature, top-k, top-p. Removed tokens become −inf.
 */
public final class LogitsProcessors {
  private LogitsProcessors() {}

  /**
   * RepetitionPenaltyLogitsProcessor (CTRL): every id seen in {@code previous} (prompt, padding and generated
   * tokens alike, as transformers gathers over input_ids) gets score·p if negative, score/p otherwise.
   */
  public static void repetitionPenalty(float[] scores, int[] previous, int previousLength, double penalty) {
    if (penalty == 1.0) {
      return;
    }
    float p = (float) penalty;
    boolean[] seen = new boolean[scores.length];
    for (int i = 0; i < previousLength; i++) {
      int t = previous[i];
      if (t >= 0 && t < scores.length && !seen[t]) {
        seen[t] = true;
        scores[t] = scores[t] < 0 ? scores[t] * p : scores[t] / p;
      }
    }
  }

  /** TemperatureLogitsWarper: scores / t. */
  public static void temperature(float[] scores, double temperature) {
    if (temperature == 1.0) {
      return;
    }
    float t = (float) temperature;
    for (int i = 0; i < scores.length; i++) {
      scores[i] = scores[i] / t;
    }
  }

  /** TopKLogitsWarper: scores below the k-th largest become −inf (ties with it are kept). */
  public static void topK(float[] scores, int k) {
    if (k <= 0 || k >= scores.length) {
      return;
    }
    float[] sorted = scores.clone();
    Arrays.sort(sorted);
    float kth = sorted[sorted.length - k];
    for (int i = 0; i < scores.length; i++) {
      if (scores[i] < kth) {
        scores[i] = Float.NEGATIVE_INFINITY;
      }
    }
  }

  /**
   * TopPLogitsWarper: sort ascending, cumulative softmax probability; tokens whose cumulative probability is
   * ≤ 1 − p are removed, the most probable token always kept. What survives is the smallest set whose
   * probability exceeds p.
   */
  public static void topP(float[] scores, double topP) {
    if (topP >= 1.0) {
      return;
    }
    Integer[] order = new Integer[scores.length];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    // Stable ascending sort by score; equal scores keep index order.
    Arrays.sort(order, (a, b) -> Float.compare(scores[a], scores[b]));
    float[] sortedScores = new float[scores.length];
    for (int i = 0; i < order.length; i++) {
      sortedScores[i] = scores[order[i]];
    }
    float[] probs = softmax(sortedScores);
    float threshold = (float) (1 - topP);
    double cumulative = 0;
    int last = order.length - 1;
    for (int i = 0; i < order.length; i++) {
      cumulative += probs[i];
      // torch.cumsum on CPU accumulates in double and stores float32; compare as float32.
      if ((float) cumulative <= threshold && i != last) {
        scores[order[i]] = Float.NEGATIVE_INFINITY;
      }
    }
  }

  /** Softmax in double, stored as float32; −inf gives exactly 0. */
  public static float[] softmax(float[] scores) {
    double max = Double.NEGATIVE_INFINITY;
    for (float s : scores) {
      max = Math.max(max, s);
    }
    double sum = 0;
    double[] e = new double[scores.length];
    for (int i = 0; i < scores.length; i++) {
      e[i] = scores[i] == Float.NEGATIVE_INFINITY ? 0 : Math.exp(scores[i] - max);
      sum += e[i];
    }
    float[] out = new float[scores.length];
    for (int i = 0; i < scores.length; i++) {
      out[i] = (float) (e[i] / sum);
    }
    return out;
  }

  /** torch.argmax: the first index of the largest score. */
  public static int argmax(float[] scores) {
    int best = 0;
    for (int i = 1; i < scores.length; i++) {
      if (scores[i] > scores[best]) {
        best = i;
      }
    }
    return best;
  }

  /** One draw from {@code probs} given a uniform u in [0, 1): the first index whose cumulative mass exceeds u. */
  public static int sample(float[] probs, double u) {
    double total = 0;
    for (float p : probs) {
      total += p;
    }
    double target = u * total;
    double cumulative = 0;
    int lastPositive = -1;
    for (int i = 0; i < probs.length; i++) {
      if (probs[i] > 0) {
        cumulative += probs[i];
        lastPositive = i;
        if (cumulative > target) {
          return i;
        }
      }
    }
    return lastPositive;
  }
}
