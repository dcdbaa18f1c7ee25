package io.sparkformers.training.models;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.List;

/**
 * A causal language model: next-token logits over a key/value cache. {@link #generate} decodes with any such
 * model as transformers' {@code generate} does (greedy, sampling, streaming), and scoring reads its logits.
 */
public interface CausalLM extends PreTrainedModel {

  /**
   * The keys and values of the positions a model has already seen, kept between decoding steps. Its tensors
   * belong to the manager they were created on until {@link #attach} moves them.
   */
  interface KvCache extends AutoCloseable {

    /** How many positions the cache holds. */
    int length();

    /** Moves the cached tensors to {@code manager}, so that a per-step manager can be closed. */
    void attach(NDManager manager);

    @Override
    void close();
  }

  /** An empty cache for this model. */
  KvCache newCache();

  /**
   * Logits [batch, seq, vocab] for {@code ids} [batch, seq]. With a cache, {@code ids} are the new positions only,
   * {@code attentionMask} (or null) covers past and new positions, and the cache grows by the new positions.
   * {@code positionIds} and {@code tokenTypeIds} (or null) cover the same positions as {@code ids}.
   */
  NDArray forward(NDArray ids, NDArray attentionMask, NDArray positionIds, NDArray tokenTypeIds, KvCache cache,
      boolean training);

  /** The vocabulary size: token ids lie in [0, vocabSize); the config's. */
  default int vocabSize() {
    return ((CausalLmConfig) config()).vocabSize();
  }

  /** The longest sequence (prompt plus new tokens) the model takes; the config's. */
  default int maxPositions() {
    return ((CausalLmConfig) config()).maxPositions();
  }

  /** The config.json key {@link #maxPositions()} comes from, for error messages (e.g. {@code n_positions}). */
  default String maxPositionsKey() {
    return ((CausalLmConfig) config()).maxPositionsKey();
  }

  /** The config's end-of-sequence ids (may be empty). */
  List<Integer> eosTokenIds();

  /** The config's padding id, or null. */
  Integer padTokenId();

  /**
   * Continues each prompt (token ids, any lengths: they are left-padded into one batch) as transformers'
   * {@code generate} does, returning each row's new tokens (up to and including its eos).
   */
  default List<int[]> generate(List<int[]> prompts, GenerationConfig generation) {
    return Generation.run(this, prompts, null, generation, null);
  }

  /** As {@link #generate(List, GenerationConfig)}, passing each token to {@code streamer} as it is chosen. */
  default List<int[]> generate(List<int[]> prompts, GenerationConfig generation, TokenStreamer streamer) {
    return Generation.run(this, prompts, null, generation, streamer);
  }

  /**
   * As {@link #generate(List, GenerationConfig, TokenStreamer)} with {@code token_type_ids} per prompt (each as
   * long as its prompt), as transformers' generate passes them: pads get type 0 (the tokenizer's
   * pad_token_type_id), and every new token repeats its row's last type. {@code streamer} may be null.
   */
  default List<int[]> generate(List<int[]> prompts, List<int[]> tokenTypeIds, GenerationConfig generation,
      TokenStreamer streamer) {
    return Generation.run(this, prompts, tokenTypeIds, generation, streamer);
  }
}
