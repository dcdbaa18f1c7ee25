package io.sparkformers.datasets;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.sql.SparkSession;

/**
 * Options of {@link DatasetLoader}: CSV dialect, an explicit schema, the cache folder, Hadoop settings for
 * remote file systems ({@code s3a://}, {@code hdfs://}), and a SparkSession to load large inputs as a Spark job.
 */
public final class LoadOptions {
  private final char delimiter;
  private final char quote;
  private final boolean header;
  private final List<String> columnNames;
  private final Features features;
  private final Path cacheDir;
  private final Map<String, String> hadoopConfiguration;
  private final SparkSession spark;
  private final long rangeBytes;

  /** {@link #rangeBytes()} unless set: 64 MiB, about a second of parsing for one core. */
  public static final long DEFAULT_RANGE_BYTES = 64L << 20;

  private LoadOptions(Builder b) {
    this.delimiter = b.delimiter;
    this.quote = b.quote;
    this.header = b.header;
    this.columnNames = b.columnNames == null ? null : List.copyOf(b.columnNames);
    this.features = b.features;
    this.cacheDir = b.cacheDir;
    this.hadoopConfiguration = Map.copyOf(b.hadoopConfiguration);
    this.spark = b.spark;
    this.rangeBytes = b.rangeBytes;
  }

  public static LoadOptions defaults() {
    return builder().build();
  }

  public static Builder builder() {
    return new Builder();
  }

  public char delimiter() {
    return delimiter;
  }

  public char quote() {
    return quote;
  }

  /** Whether the first CSV row names the columns (true by default). */
  public boolean header() {
    return header;
  }

  /** Column names for CSV files without a header row; null for {@code column_0, column_1, ...}. */
  public List<String> columnNames() {
    return columnNames;
  }

  /** The schema to read with instead of inferring one; null to infer. */
  public Features features() {
    return features;
  }

  /** The cache folder; null for the default (see {@code SPARKFORMERS_DATASETS_CACHE}). */
  public Path cacheDir() {
    return cacheDir;
  }

  /** Hadoop settings for remote file systems, e.g. {@code fs.s3a.endpoint}. */
  public Map<String, String> hadoopConfiguration() {
    return hadoopConfiguration;
  }

  /** The SparkSession to load with, or null to load in this process. */
  public SparkSession spark() {
    return spark;
  }

  /**
   * For {@link SparkDataset#load}: an uncompressed JSON-lines or text file larger than this many bytes is cut
   * into ranges of this size, each parsed by its own Spark task (a line belongs to the range holding its first
   * byte); the rows and their order are the same for any size. Compressed files, JSON array files and the
   * other formats are read by one task per file.
   */
  public long rangeBytes() {
    return rangeBytes;
  }

  /** What changes the parsed rows, for the fingerprint (not the cache folder or the session). */
  String fingerprintKey() {
    return "delimiter=" + (int) delimiter + ",quote=" + (int) quote + ",header=" + header + ",names="
        + columnNames + ",features=" + features;
  }

  /** Builds {@link LoadOptions}. */
  public static final class Builder {
    private char delimiter = ',';
    private char quote = '"';
    private boolean header = true;
    private List<String> columnNames;
    private Features features;
    private Path cacheDir;
    private final Map<String, String> hadoopConfiguration = new TreeMap<>();
    private SparkSession spark;
    private long rangeBytes = DEFAULT_RANGE_BYTES;

    public Builder delimiter(char delimiter) {
      this.delimiter = delimiter;
      return this;
    }

    public Builder quote(char quote) {
      this.quote = quote;
      return this;
    }

    public Builder header(boolean header) {
      this.header = header;
      return this;
    }

    public Builder columnNames(List<String> names) {
      this.columnNames = names;
      return this;
    }

    public Builder features(Features features) {
      this.features = features;
      return this;
    }

    public Builder cacheDir(Path cacheDir) {
      this.cacheDir = cacheDir;
      return this;
    }

    public Builder hadoopConfiguration(String key, String value) {
      this.hadoopConfiguration.put(key, value);
      return this;
    }

    public Builder hadoopConfiguration(Map<String, String> settings) {
      this.hadoopConfiguration.putAll(settings);
      return this;
    }

    public Builder spark(SparkSession spark) {
      this.spark = spark;
      return this;
    }

    /** See {@link LoadOptions#rangeBytes()}; at least 1. */
    public Builder rangeBytes(long bytes) {
      if (bytes < 1) {
        throw new IllegalArgumentException("rangeBytes must be at least 1, got " + bytes);
      }
      this.rangeBytes = bytes;
      return this;
    }

    public LoadOptions build() {
      return new LoadOptions(this);
    }
  }
}
