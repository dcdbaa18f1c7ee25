package io.sparkformers.training;

import java.util.Map;

/**
 * compute_metrics that accumulates batch by batch: transformers' {@code compute_metrics(eval_pred,
 * compute_result)} under {@code batch_eval_metrics}. The Trainer makes one per evaluation pass (through the
 * supplier given to {@link Trainer.Builder#batchMetrics}), hands it every evaluation step's predictions and
 * labels with {@link #update}, and asks for the result once with {@link #compute}. What it keeps between
 * batches is up to it (confusion counts, sums of log-likelihoods, ...): with {@code batch_eval_metrics} the
 * Trainer keeps no predictions of its own, so evaluation memory then does not grow with the evaluation set.
 *
 * <p>Batches arrive in row order: on several ranks each batch holds every rank's rows of one step (rank 0's
 * first, as they are gathered), and every rank's object receives the same batches, so every rank computes the
 * same metrics. Sums added in arrival order therefore add in the order one pass over all rows adds them.
 */
public interface BatchMetrics {

  /**
   * Adds one evaluation step's rows (at most per_device_eval_batch_size times the world size): the kept logits
   * (or what preprocess_logits_for_metrics made of them) and the labels. The arrays are this batch's alone.
   */
  void update(EvalPrediction batch);

  /** The metrics of every row added, by name (transformers' call with {@code compute_result=True}). */
  Map<String, Double> compute();
}
