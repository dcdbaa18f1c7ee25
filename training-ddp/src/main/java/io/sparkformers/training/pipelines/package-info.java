/**
 * Hugging Face's {@code pipeline(...)}: one call from text to text. {@link
 * io.sparkformers.training.pipelines.TextGenerationPipeline} loads a model folder's model, tokenizer and
 * generation defaults and continues prompts; {@link io.sparkformers.training.pipelines.SparkTextGeneration} does
 * the same over a Spark DataFrame with one model per executor.
 */
package io.sparkformers.training.pipelines;
