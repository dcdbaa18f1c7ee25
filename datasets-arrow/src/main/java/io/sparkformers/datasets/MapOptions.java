package io.sparkformers.datasets;

import java.util.List;
import java.util.Objects;

/**
 * Options of {@link Dataset#map} and {@link Dataset#mapBatched}, as in Hugging Face's {@code map}. The
 * result is cached under a fingerprint only when the function has a declared {@code functionName} and
 * {@code functionVersion}: Java cannot look inside a lambda, so without them the map runs uncached with a
 * warning. Change the version whenever the function's behaviour changes.
 */
public final class MapOptions implements java.io.Serializable {
  private static final long serialVersionUID = 1L;
  private final int batchSize;
  private final List<String> removeColumns;
  private final Features features;
  private final String functionName;
  private final String functionVersion;

  private MapOptions(Builder b) {
    this.batchSize = b.batchSize;
    this.removeColumns = List.copyOf(b.removeColumns);
    this.features = b.features;
    this.functionName = b.functionName;
    this.functionVersion = b.functionVersion;
  }

  public static MapOptions defaults() {
    return builder().build();
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Rows per call of a batched function (Hugging Face's default 1000); 0 or less: the whole dataset. */
  public int batchSize() {
    return batchSize;
  }

  public List<String> removeColumns() {
    return removeColumns;
  }

  /** The output's features when given, instead of inferring them from the values. */
  public Features features() {
    return features;
  }

  public String functionName() {
    return functionName;
  }

  public String functionVersion() {
    return functionVersion;
  }

  public boolean isCacheable() {
    return functionName != null && functionVersion != null;
  }

  @Override
  public String toString() {
    return "batchSize=" + batchSize + ", removeColumns=" + removeColumns + ", features=" + features
        + ", function=" + functionName + "@" + functionVersion;
  }

  /** Builds {@link MapOptions}. */
  public static final class Builder {
    private int batchSize = 1000;
    private List<String> removeColumns = List.of();
    private Features features;
    private String functionName;
    private String functionVersion;

    public Builder batchSize(int batchSize) {
      this.batchSize = batchSize;
      return this;
    }

    public Builder removeColumns(String... columns) {
      this.removeColumns = List.of(columns);
      return this;
    }

    public Builder removeColumns(List<String> columns) {
      this.removeColumns = List.copyOf(columns);
      return this;
    }

    public Builder features(Features features) {
      this.features = features;
      return this;
    }

    /** Names the function and its version, which makes the result cacheable. */
    public Builder function(String name, String version) {
      this.functionName = Objects.requireNonNull(name, "name");
      this.functionVersion = Objects.requireNonNull(version, "version");
      return this;
    }

    public MapOptions build() {
      return new MapOptions(this);
    }
  }
}
