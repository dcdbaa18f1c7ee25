package io.sparkformers.training.models;

/**
 * Receives tokens as {@link CausalLM#generate} produces them, like transformers' TextStreamer: one
 * {@link #put} per row and step while that row is unfinished (its eos included), then {@link #end} once, also
 * when generation fails.
 */
public interface TokenStreamer {
  /** The token just chosen for prompt {@code row}. */
  void put(int row, int tokenId);

  /** Generation is over (all rows finished, max_new_tokens reached, or an error). */
  void end();
}
