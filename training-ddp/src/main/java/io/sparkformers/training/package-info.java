/**
 * Models built from a Hugging Face {@code config.json} on DJL's PyTorch engine, and the {@code Trainer} that
 * trains them data-parallel across Spark barrier tasks: optimizers, schedules, gradient all-reduce in buckets,
 * callbacks, resumable checkpoints in Hugging Face's layout, and generation. It composes datasets-arrow and
 * accelerate-spark.
 */
package io.sparkformers.training;
