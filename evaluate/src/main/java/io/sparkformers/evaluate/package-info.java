/**
 * Metrics equal to the reference tools (sacrebleu, rouge-score, scikit-learn), held as mergeable sufficient
 * statistics so that Spark can compute them as aggregations: typed {@code Aggregator}s, DataFrame and SQL
 * functions, and a Spark ML {@code Evaluator}; and {@code Metrics}, the same metrics in one call over lists
 * with typed results ({@code BleuScore}, {@code RougeScores}, ...) or by Hugging Face name
 * ({@code Metrics.load("sacrebleu")}). It depends on Spark SQL only.
 */
package io.sparkformers.evaluate;
