package io.sparkformers.datasets;

import ai.djl.Device;

/**
 * Options of a {@link DataLoader}: batch size, drop_last, seeded per-epoch shuffling, the collator, the
 * device, background prefetching, and a fixed number of batches per epoch to keep ranks even.
 */
public final class DataLoaderOptions {
  private final int batchSize;
  private final boolean dropLast;
  private final boolean shuffle;
  private final long seed;
  private final DataCollator collator;
  private final Device device;
  private final int prefetch;
  private final long batchesPerEpoch;

  private DataLoaderOptions(Builder b) {
    if (b.batchSize <= 0) {
      throw new IllegalArgumentException("batchSize must be positive, got " + b.batchSize);
    }
    if (b.prefetch < 0) {
      throw new IllegalArgumentException("prefetch must be 0 or more, got " + b.prefetch);
    }
    this.batchSize = b.batchSize;
    this.dropLast = b.dropLast;
    this.shuffle = b.shuffle;
    this.seed = b.seed;
    this.collator = b.collator != null ? b.collator : Collators.defaultCollator();
    this.device = b.device;
    this.prefetch = b.prefetch;
    this.batchesPerEpoch = b.batchesPerEpoch;
  }

  public static Builder builder() {
    return new Builder();
  }

  public int batchSize() {
    return batchSize;
  }

  public boolean dropLast() {
    return dropLast;
  }

  public boolean shuffle() {
    return shuffle;
  }

  public long seed() {
    return seed;
  }

  public DataCollator collator() {
    return collator;
  }

  /** The device for the batches' arrays; null for the manager's own device. */
  public Device device() {
    return device;
  }

  /** Batches prepared ahead on a background thread; 0 prepares each batch on the caller's thread. */
  public int prefetch() {
    return prefetch;
  }

  /** When positive, every epoch yields exactly this many full batches (see {@link DataLoader}). */
  public long batchesPerEpoch() {
    return batchesPerEpoch;
  }

  /** Builds {@link DataLoaderOptions}. */
  public static final class Builder {
    private int batchSize = 8;
    private boolean dropLast;
    private boolean shuffle;
    private long seed = 42;
    private DataCollator collator;
    private Device device;
    private int prefetch = 2;
    private long batchesPerEpoch;

    public Builder batchSize(int batchSize) {
      this.batchSize = batchSize;
      return this;
    }

    public Builder dropLast(boolean dropLast) {
      this.dropLast = dropLast;
      return this;
    }

    /** Shuffles each epoch with numpy's {@code default_rng(seed + epoch)} permutation. */
    public Builder shuffle(boolean shuffle) {
      this.shuffle = shuffle;
      return this;
    }

    public Builder seed(long seed) {
      this.seed = seed;
      return this;
    }

    public Builder collator(DataCollator collator) {
      this.collator = collator;
      return this;
    }

    public Builder device(Device device) {
      this.device = device;
      return this;
    }

    public Builder prefetch(int batches) {
      this.prefetch = batches;
      return this;
    }

    /**
     * Makes every epoch exactly {@code batches} full batches long, wrapping around to the start of the epoch's
     * order when the rows run out, as accelerate's {@code even_batches} does: give every rank
     * {@link DataLoader#evenBatchesPerEpoch} so that no rank waits in a collective for another.
     */
    public Builder batchesPerEpoch(long batches) {
      this.batchesPerEpoch = batches;
      return this;
    }

    public DataLoaderOptions build() {
      return new DataLoaderOptions(this);
    }
  }
}
