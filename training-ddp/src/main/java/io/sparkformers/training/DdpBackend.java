package io.sparkformers.training;

import io.sparkformers.config.ConfigEnum;
import io.sparkformers.config.ConfigTypes;

/** The transport between data-parallel ranks (transformers' {@code ddp_backend}). */
public enum DdpBackend implements ConfigEnum {
  /** TCP sockets between hosts and shared memory within one: CPU tensors. */
  TCP("tcp"),
  /** NVIDIA NCCL on GPU memory, through the system's libnccl.so.2 (tcp where it cannot be used). */
  NCCL("nccl");

  private final String value;

  DdpBackend(String value) {
    this.value = value;
  }

  /** The name transformers and config files use. */
  @Override
  public String value() {
    return value;
  }

  /**
   * The constant named {@code value} as transformers spells it; an unknown name is an error listing the valid
   * ones.
   */
  public static DdpBackend parse(String value) {
    return ConfigTypes.parseEnum(DdpBackend.class, value);
  }

  /** {@link #value()}, so that messages and logs read as transformers' do. */
  @Override
  public String toString() {
    return value;
  }
}
