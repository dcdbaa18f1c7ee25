package io.sparkformers.datasets;

import io.sparkformers.datasets.internal.NumpyRandom;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Which rows form each batch of an epoch, and which of those batches a rank takes: the sampler behind both
 * {@link DataLoader} and the Trainer. The order of an epoch is fixed by the seed and the epoch alone (never by
 * the rank), so every rank cuts the same batches; batch {@code i} is the rows {@code order[i·bs + j]} for
 * {@code j < bs}, wrapping to the start of the order where a batch runs past the end (a completed last batch,
 * or a fixed number of batches per epoch). Ranks are dealt whole batches round-robin, as accelerate's
 * {@code BatchSamplerShard} deals them, with the first batches repeated so that every rank gets as many.
 * Immutable; build with {@link #builder(long)}.
 */
public final class EpochSampler implements Serializable {
  private static final long serialVersionUID = 1L;

  /** How an epoch orders the rows. */
  public enum Order {
    /** Row 0, 1, 2, ... every epoch. */
    SEQUENTIAL,
    /** {@code numpy.random.default_rng(seed + epoch).permutation(n)}, as datasets' {@code shuffle(seed)} draws it. */
    NUMPY_PERMUTATION,
    /**
     * A Fisher-Yates shuffle driven by {@code java.util.SplittableRandom(seed · 1000003 + epoch)}: the Trainer's
     * order since its first release, kept so that a seeded run keeps choosing the same batches.
     */
    SPLITTABLE_RANDOM_SHUFFLE
  }

  /** What happens to a last batch shorter than the batch size. */
  public enum LastBatch {
    /** It stays short. */
    KEEP,
    /** It is left out (drop_last). */
    DROP,
    /** It is completed with rows from the start of the order (even batches across ranks). */
    COMPLETE
  }

  private final long numRows;
  private final int batchSize;
  private final Order order;
  private final long seed;
  private final LastBatch lastBatch;
  private final int rank;
  private final int worldSize;
  private final long batchesPerEpoch;

  private EpochSampler(Builder b) {
    if (b.numRows < 0 || b.numRows > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("numRows must be in [0, " + Integer.MAX_VALUE + "], got " + b.numRows);
    }
    if (b.batchSize <= 0) {
      throw new IllegalArgumentException("batchSize must be positive, got " + b.batchSize);
    }
    if (b.worldSize <= 0 || b.rank < 0 || b.rank >= b.worldSize) {
      throw new IllegalArgumentException("rank " + b.rank + " is not one of world size " + b.worldSize);
    }
    if (b.batchesPerEpoch < 0) {
      throw new IllegalArgumentException("batchesPerEpoch must be 0 (from the rows) or positive, got "
          + b.batchesPerEpoch);
    }
    this.numRows = b.numRows;
    this.batchSize = b.batchSize;
    this.order = b.order;
    this.seed = b.seed;
    this.lastBatch = b.lastBatch;
    this.rank = b.rank;
    this.worldSize = b.worldSize;
    this.batchesPerEpoch = b.batchesPerEpoch;
  }

  /** A sampler over {@code numRows} rows: batches of 8, sequential, last batch kept, one rank. */
  public static Builder builder(long numRows) {
    return new Builder(numRows);
  }

  public long numRows() {
    return numRows;
  }

  public int batchSize() {
    return batchSize;
  }

  /** The order in which epoch {@code epoch} visits the rows. */
  public long[] order(long epoch) {
    int n = (int) numRows;
    switch (order) {
      case NUMPY_PERMUTATION:
        return new NumpyRandom(seed + epoch).permutation(n);
      case SPLITTABLE_RANDOM_SHUFFLE: {
        long[] o = sequential(n);
        SplittableRandom rng = new SplittableRandom(seed * 1_000_003L + epoch);
        for (int i = o.length - 1; i > 0; i--) {
          int j = rng.nextInt(i + 1);
          long t = o[i];
          o[i] = o[j];
          o[j] = t;
        }
        return o;
      }
      default:
        return sequential(n);
    }
  }

  private static long[] sequential(int n) {
    long[] o = new long[n];
    for (int i = 0; i < n; i++) {
      o[i] = i;
    }
    return o;
  }

  /** The number of batches the whole dataset gives per epoch, before they are dealt to ranks. */
  public long totalBatches() {
    if (batchesPerEpoch > 0) {
      return batchesPerEpoch;
    }
    return lastBatch == LastBatch.DROP ? numRows / batchSize : (numRows + batchSize - 1) / batchSize;
  }

  /** The number of batches this rank takes per epoch (the same on every rank). */
  public long batchesPerEpoch() {
    long total = totalBatches();
    if (worldSize == 1) {
      return total;
    }
    return lastBatch == LastBatch.DROP ? total / worldSize : (total + worldSize - 1) / worldSize;
  }

  /** The rows of the whole dataset's batch {@code index} of an epoch visiting the rows in {@code order}. */
  public long[] batch(long[] order, long index) {
    long start = index * batchSize;
    boolean full = batchesPerEpoch > 0 || lastBatch == LastBatch.COMPLETE;
    int size = full ? batchSize : (int) Math.min(batchSize, numRows - start);
    long[] rows = new long[size];
    for (int i = 0; i < size; i++) {
      rows[i] = order[(int) ((start + i) % order.length)];
    }
    return rows;
  }

  /** This rank's batches of epoch {@code epoch}, as row ids, in the order it takes them. */
  public List<long[]> batches(long epoch) {
    long[] o = order(epoch);
    long total = totalBatches();
    List<long[]> mine = new ArrayList<>();
    if (o.length == 0) {
      return mine;
    }
    for (long k = 0; k < batchesPerEpoch(); k++) {
      // Past the last batch a rank repeats the first ones (accelerate's even_batches).
      mine.add(batch(o, (k * worldSize + rank) % total));
    }
    return mine;
  }

  /** Builds an {@link EpochSampler}. */
  public static final class Builder {
    private final long numRows;
    private int batchSize = 8;
    private Order order = Order.SEQUENTIAL;
    private long seed;
    private LastBatch lastBatch = LastBatch.KEEP;
    private int rank;
    private int worldSize = 1;
    private long batchesPerEpoch;

    private Builder(long numRows) {
      this.numRows = numRows;
    }

    public Builder batchSize(int v) { batchSize = v; return this; }
    /** The order of each epoch and the seed it is drawn from (ignored for SEQUENTIAL). */
    public Builder order(Order v, long seed) { order = v; this.seed = seed; return this; }
    public Builder lastBatch(LastBatch v) { lastBatch = v; return this; }
    /** This rank among {@code worldSize}: it takes batches rank, rank + worldSize, ... */
    public Builder rank(int rank, int worldSize) { this.rank = rank; this.worldSize = worldSize; return this; }
    /** A fixed number of full batches per epoch, wrapping over the rows (0: as many as the rows give). */
    public Builder batchesPerEpoch(long v) { batchesPerEpoch = v; return this; }

    public EpochSampler build() {
      return new EpochSampler(this);
    }
  }
}
