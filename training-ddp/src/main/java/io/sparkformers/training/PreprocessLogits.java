package io.sparkformers.training;

import ai.djl.ndarray.NDArray;

/**
 * transformers' {@code preprocess_logits_for_metrics}: reduces one evaluation batch's logits before they are
 * kept for {@link ComputeMetrics}, on the model's device (for example an argmax, or a causal LM's
 * log-likelihood of each next token). Without it evaluation keeps every logit: a causal LM at GPT-2's
 * vocabulary holds about 25 MB per 128-token row.
 */
@FunctionalInterface
public interface PreprocessLogits {

  /**
   * Returns what to keep for this batch: a tensor whose first dimension is the batch's rows (any type; it is
   * kept as float32, one flat row each). The inputs belong to the batch and are freed after it.
   *
   * @param logits the model's logits, [rows, ...]
   * @param labels the batch's labels, or null when the dataset has none
   */
  NDArray apply(NDArray logits, NDArray labels);
}
