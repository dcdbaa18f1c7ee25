package io.sparkformers.training.models;

import ai.djl.ndarray.types.DataType;
import java.util.Locale;

/**
 * How {@link PreTrainedModel#savePretrained(java.nio.file.Path, SaveOptions)} writes the weights: their float type
 * and transformers' {@code max_shard_size} (default "5GB"). Weights larger than one shard are split into
 * {@code model-00001-of-0000N.safetensors} files plus {@code model.safetensors.index.json}, as transformers
 * (huggingface_hub's split_torch_state_dict_into_shards) splits and names them.
 */
public final class SaveOptions {
  /** transformers' default max_shard_size, "5GB" (decimal: 5·10⁹ bytes). */
  public static final long DEFAULT_MAX_SHARD_SIZE = 5_000_000_000L;

  private final DataType floatType;
  private final long maxShardSize;

  private SaveOptions(Builder b) {
    this.floatType = b.floatType;
    this.maxShardSize = b.maxShardSize;
  }

  public static SaveOptions defaults() {
    return builder().build();
  }

  public static Builder builder() {
    return new Builder();
  }

  /** FLOAT32 (default) or FLOAT16. */
  public DataType floatType() {
    return floatType;
  }

  /** The most bytes of tensor data per shard (a larger single tensor gets a shard of its own). */
  public long maxShardSize() {
    return maxShardSize;
  }

  /**
   * A size as transformers and huggingface_hub write it: an integer number of bytes, or a number followed by
   * KB, MB, GB or TB (powers of 1000, any case, e.g. "5GB", "200MB", "1.5 GB").
   */
  public static long parseSize(String size) {
    String s = size.strip();
    if (s.matches("\\d+")) {
      return Long.parseLong(s);
    }
    if (s.length() < 3) {
      throw new IllegalArgumentException("max_shard_size '" + size + "': expected bytes or a number with TB, GB, MB"
          + " or KB");
    }
    String unit = s.substring(s.length() - 2).toUpperCase(Locale.ROOT);
    long multiplier = switch (unit) {
      case "TB" -> 1_000_000_000_000L;
      case "GB" -> 1_000_000_000L;
      case "MB" -> 1_000_000L;
      case "KB" -> 1_000L;
      default -> throw new IllegalArgumentException("max_shard_size '" + size + "': unit '" + unit
          + "' not supported; supported units are TB, GB, MB, KB");
    };
    double value;
    try {
      value = Double.parseDouble(s.substring(0, s.length() - 2).strip());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("max_shard_size '" + size + "': '" + s.substring(0, s.length() - 2).strip()
          + "' is not a number");
    }
    return (long) (value * multiplier);
  }

  public Builder toBuilder() {
    return new Builder().floatType(floatType).maxShardSize(maxShardSize);
  }

  /** Builds {@link SaveOptions}. */
  public static final class Builder {
    private DataType floatType = DataType.FLOAT32;
    private long maxShardSize = DEFAULT_MAX_SHARD_SIZE;

    private Builder() {}

    public Builder floatType(DataType type) {
      if (type != DataType.FLOAT32 && type != DataType.FLOAT16) {
        throw new IllegalArgumentException("weights are saved as FLOAT32 or FLOAT16, not " + type);
      }
      this.floatType = type;
      return this;
    }

    public Builder maxShardSize(long bytes) {
      if (bytes <= 0) {
        throw new IllegalArgumentException("max_shard_size must be positive, got " + bytes);
      }
      this.maxShardSize = bytes;
      return this;
    }

    /** As {@link #maxShardSize(long)}, from "5GB", "200MB", ... (see {@link SaveOptions#parseSize}). */
    public Builder maxShardSize(String size) {
      return maxShardSize(parseSize(size));
    }

    public SaveOptions build() {
      return new SaveOptions(this);
    }
  }
}
