package io.sparkformers.training;

/**
 * What {@code compute_metrics} receives (transformers' {@code EvalPrediction}): the model's logits per row
 * (flattened after the first dimension) and the row's labels (one for classification).
 */
public record EvalPrediction(float[][] predictions, long[][] labels) {

  /** The index of the largest logit of each row (the predicted class). */
  public long[] argmax() {
    long[] out = new long[predictions.length];
    for (int i = 0; i < predictions.length; i++) {
      float[] p = predictions[i];
      int best = 0;
      for (int j = 1; j < p.length; j++) {
        if (p[j] > p[best]) {
          best = j;
        }
      }
      out[i] = best;
    }
    return out;
  }

  /** The first label of each row (the class of a classification row). */
  public long[] labelIds() {
    long[] out = new long[labels.length];
    for (int i = 0; i < labels.length; i++) {
      out[i] = labels[i].length == 0 ? -100 : labels[i][0];
    }
    return out;
  }
}
