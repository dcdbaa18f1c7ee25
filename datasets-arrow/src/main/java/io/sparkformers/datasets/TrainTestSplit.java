package io.sparkformers.datasets;

/**
 * How {@link Dataset#trainTestSplit} splits, with Hugging Face's rules: a fraction rounds the test set up
 * ({@code ceil(testSize * n)}) and the train set down; with neither size given the test set is 25%;
 * shuffled by default with numpy's {@code default_rng(seed)}, so a seed gives the rows Python gives.
 */
public final class TrainTestSplit {
  private final Double testFraction;
  private final Long testCount;
  private final Double trainFraction;
  private final Long trainCount;
  private final boolean shuffle;
  private final Long seed;
  private final String stratifyByColumn;

  private TrainTestSplit(Builder b) {
    this.testFraction = b.testFraction;
    this.testCount = b.testCount;
    this.trainFraction = b.trainFraction;
    this.trainCount = b.trainCount;
    this.shuffle = b.shuffle;
    this.seed = b.seed;
    this.stratifyByColumn = b.stratifyByColumn;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** A test set of {@code fraction} of the rows, shuffled with {@code seed}. */
  public static TrainTestSplit testFraction(double fraction, long seed) {
    return builder().testSize(fraction).seed(seed).build();
  }

  public boolean shuffle() {
    return shuffle;
  }

  /** The seed, or null for a random one. */
  public Long seed() {
    return seed;
  }

  public String stratifyByColumn() {
    return stratifyByColumn;
  }

  /** The sizes {n_train, n_test} for {@code n} rows, or an error saying what is wrong. */
  long[] sizes(long n) {
    if (testFraction != null && (testFraction <= 0 || testFraction >= 1)) {
      throw new IllegalArgumentException("test_size=" + testFraction + " should be in (0, 1) as a fraction");
    }
    if (trainFraction != null && (trainFraction <= 0 || trainFraction >= 1)) {
      throw new IllegalArgumentException("train_size=" + trainFraction + " should be in (0, 1) as a fraction");
    }
    if (testCount != null && (testCount <= 0 || testCount >= n)) {
      throw new IllegalArgumentException("test_size=" + testCount + " should be in [1, " + (n - 1) + "]");
    }
    if (trainCount != null && (trainCount <= 0 || trainCount >= n)) {
      throw new IllegalArgumentException("train_size=" + trainCount + " should be in [1, " + (n - 1) + "]");
    }
    boolean noTest = testFraction == null && testCount == null;
    boolean noTrain = trainFraction == null && trainCount == null;
    Double testF = noTest && noTrain ? Double.valueOf(0.25) : testFraction;
    Long nTest = testF != null ? Long.valueOf((long) Math.ceil(testF * n)) : testCount;
    Long nTrain = trainFraction != null ? Long.valueOf((long) Math.floor(trainFraction * n)) : trainCount;
    if (nTrain == null) {
      nTrain = n - nTest;
    } else if (nTest == null) {
      nTest = n - nTrain;
    }
    if (nTrain + nTest > n) {
      throw new IllegalArgumentException("The sum of train_size and test_size = " + (nTrain + nTest)
          + ", should be smaller than the number of samples " + n);
    }
    if (nTrain == 0) {
      throw new IllegalArgumentException("With n_samples=" + n + " the resulting train set would be empty");
    }
    return new long[] {nTrain, nTest};
  }

  /** Builds {@link TrainTestSplit}. */
  public static final class Builder {
    private Double testFraction;
    private Long testCount;
    private Double trainFraction;
    private Long trainCount;
    private boolean shuffle = true;
    private Long seed;
    private String stratifyByColumn;

    /** The test set as a fraction of the rows, in (0, 1). */
    public Builder testSize(double fraction) {
      this.testFraction = fraction;
      this.testCount = null;
      return this;
    }

    /** The test set as a number of rows. */
    public Builder testCount(long rows) {
      this.testCount = rows;
      this.testFraction = null;
      return this;
    }

    public Builder trainSize(double fraction) {
      this.trainFraction = fraction;
      this.trainCount = null;
      return this;
    }

    public Builder trainCount(long rows) {
      this.trainCount = rows;
      this.trainFraction = null;
      return this;
    }

    public Builder shuffle(boolean shuffle) {
      this.shuffle = shuffle;
      return this;
    }

    public Builder seed(long seed) {
      this.seed = seed;
      return this;
    }

    /** Keeps each value's share of this column equal in both sets (the column's values are the classes). */
    public Builder stratifyByColumn(String column) {
      this.stratifyByColumn = column;
      return this;
    }

    public TrainTestSplit build() {
      return new TrainTestSplit(this);
    }
  }
}
