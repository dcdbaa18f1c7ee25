/**
 * Metrics equal to the reference tools (sacrebleu, rouge-score, scikit-learn), held as mergeable sufficient
 * statistics so that Spark can compute them as aggregations: typed {@code Aggregator}s, DataFrame and SQL
 * functions, and a Spark ML {@code Evaluator}. It depends on Spark SQL only.
 */
package io.sparkformers.evaluate;
