package io.sparkformers.training.models;

import ai.djl.Device;

/**
 * How {@link AutoModel#fromPretrained(java.nio.file.Path, FromPretrainedOptions)} treats a checkpoint that does
 * not match the model. By default any missing key, unexpected key or size mismatch is an error naming the tensors.
 */
public final class FromPretrainedOptions {
  private final boolean allowMissingKeys;
  private final boolean allowUnexpectedKeys;
  private final boolean ignoreMismatchedSizes;
  private final Device device;

  private FromPretrainedOptions(Builder b) {
    this.allowMissingKeys = b.allowMissingKeys;
    this.allowUnexpectedKeys = b.allowUnexpectedKeys;
    this.ignoreMismatchedSizes = b.ignoreMismatchedSizes;
    this.device = b.device;
  }

  public static FromPretrainedOptions defaults() {
    return builder().build();
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Missing parameters keep their fresh initialisation (e.g. a new classifier head). */
  public boolean allowMissingKeys() {
    return allowMissingKeys;
  }

  /** Checkpoint tensors the model has no place for are ignored (e.g. a pre-training head). */
  public boolean allowUnexpectedKeys() {
    return allowUnexpectedKeys;
  }

  /** transformers' {@code ignore_mismatched_sizes}: such parameters keep their fresh initialisation. */
  public boolean ignoreMismatchedSizes() {
    return ignoreMismatchedSizes;
  }

  public Device device() {
    return device;
  }

  /** Builds {@link FromPretrainedOptions}. */
  public static final class Builder {
    private boolean allowMissingKeys;
    private boolean allowUnexpectedKeys;
    private boolean ignoreMismatchedSizes;
    private Device device = Device.cpu();

    public Builder allowMissingKeys(boolean v) {
      allowMissingKeys = v;
      return this;
    }

    public Builder allowUnexpectedKeys(boolean v) {
      allowUnexpectedKeys = v;
      return this;
    }

    public Builder ignoreMismatchedSizes(boolean v) {
      ignoreMismatchedSizes = v;
      return this;
    }

    public Builder device(Device v) {
      device = v;
      return this;
    }

    public FromPretrainedOptions build() {
      return new FromPretrainedOptions(this);
    }
  }
}
