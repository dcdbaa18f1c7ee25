package io.sparkformers.datasets;

/** When {@link IterableDataset#interleave} stops, as Hugging Face's {@code stopping_strategy}. */
public enum StoppingStrategy {
  /** Stop as soon as one source runs out (after its last example). */
  FIRST_EXHAUSTED,
  /** Restart sources that run out until every source has run out at least once (oversampling). */
  ALL_EXHAUSTED
}
