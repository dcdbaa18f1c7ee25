package io.sparkformers.training.models;

/**
 * The config of a causal language model ({@link CausalLM}): what preparing its training data needs before the
 * model exists, the vocabulary and the longest sequence it takes.
 */
public interface CausalLmConfig extends ModelConfig {

  /** {@code vocab_size}. */
  int vocabSize();

  /** The longest sequence the model takes ({@code n_positions}, {@code max_position_embeddings}, ...). */
  int maxPositions();

  /** The config.json key {@link #maxPositions()} comes from, for messages. */
  String maxPositionsKey();
}
