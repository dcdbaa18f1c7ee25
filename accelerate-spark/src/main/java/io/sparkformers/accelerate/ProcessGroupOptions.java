package io.sparkformers.accelerate;

import io.sparkformers.config.ConfigDef;
import io.sparkformers.config.ConfigKey;
import io.sparkformers.config.ConfigTypes;
import io.sparkformers.config.Validator;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * How a process group is opened and how its collectives behave. Immutable; build with {@link #builder()}.
 *
 * <ul>
 *   <li>{@code backend}: the transport, by name ({@code "tcp"}, the default; others are found through
 *       {@link java.util.ServiceLoader} as {@link ProcessGroupBackend}s).
 *   <li>{@code timeout}: how long a collective (and connecting) waits for a peer before every rank fails.
 *   <li>{@code ringThresholdBytes}: all-reduces of at least this many bytes use the bandwidth-optimal ring
 *       (reduce-scatter then all-gather); smaller ones the latency-optimal recursive doubling.
 *   <li>{@code sharedMemory}: when every rank runs on the same host, all-reduces of every size go through
 *       shared memory-mapped files in /dev/shm instead of sockets (default on); the ring threshold then only
 *       applies to ranks on several hosts.
 *   <li>{@code sharedMemoryArenaBytes}: with shared memory on, the most bytes of
 *       {@link ProcessGroup#allocate registered buffers} each rank can allocate (default 1 GiB; the arena is a
 *       sparse file, it takes memory only as buffers are allocated). Allocations beyond it are plain direct
 *       buffers.
 *   <li>{@code cudaDevice}: the CUDA device index of this rank's tensors, or -1 (the CPU): the {@code nccl}
 *       backend opens its communicator on it. Set by the launcher from the rank's device, not a config key.
 * </ul>
 *
 * <p>The last three are also keys of a job file's {@code process_group:} section, declared once in
 * {@link #definition()} (the builder's defaults and checks come from there); the backend and the timeout are
 * the training arguments {@code ddp_backend} and {@code ddp_timeout}.
 */
public final class ProcessGroupOptions implements java.io.Serializable {
  private static final long serialVersionUID = 1L;

  /** The most bytes a Java mapping holds ({@code Integer.MAX_VALUE}) less one page. */
  private static final long MAX_ARENA_BYTES = Integer.MAX_VALUE - 4095;

  private static final ConfigDef DEF = new ConfigDef("process_group");

  private static final ConfigKey<Integer> RING_THRESHOLD_BYTES = DEF.define(
      ConfigKey.builder("ring_threshold_bytes", ConfigTypes.INT).defaultValue(256 * 1024)
          .validator(Validator.atLeast(0)).invalidMessage((key, v) -> "ringThresholdBytes must be >= 0, got " + v)
          .doc("all-reduces over sockets of at least this many bytes use the bandwidth-optimal ring"
              + " (reduce-scatter, then all-gather); smaller ones the latency-optimal recursive doubling"));
  private static final ConfigKey<Boolean> SHARED_MEMORY = DEF.define(
      ConfigKey.builder("shared_memory", ConfigTypes.BOOLEAN).defaultValue(true)
          .doc("when every rank runs on one host, all-reduces of every size go through memory-mapped files in"
              + " /dev/shm instead of sockets"));
  private static final ConfigKey<Long> SHARED_MEMORY_ARENA_BYTES = DEF.define(
      ConfigKey.builder("shared_memory_arena_bytes", ConfigTypes.LONG).defaultValue(1L << 30)
          .validator(Validator.between(0, MAX_ARENA_BYTES))
          .invalidMessage((key, v) -> "sharedMemoryArenaBytes must be between 0 and " + MAX_ARENA_BYTES
              + ", got " + v)
          .doc("with shared_memory, the most bytes of registered (zero-copy) buffers each rank allocates in the"
              + " shared arena, a sparse file that takes memory only as buffers are allocated; beyond it,"
              + " buffers are plain direct memory. At most 2 GiB less one page"));

  static {
    DEF.seal();
  }

  private final String backend;
  private final Duration timeout;
  private final int ringThresholdBytes;
  private final boolean sharedMemory;
  private final long sharedMemoryArenaBytes;
  private final int cudaDevice;

  private ProcessGroupOptions(Builder b) {
    this.backend = b.backend;
    this.timeout = b.timeout;
    this.ringThresholdBytes = b.ringThresholdBytes;
    this.sharedMemory = b.sharedMemory;
    this.sharedMemoryArenaBytes = b.sharedMemoryArenaBytes;
    this.cudaDevice = b.cudaDevice;
  }

  /** The keys of a job file's {@code process_group:} section. */
  public static ConfigDef definition() {
    return DEF;
  }

  /**
   * The options a {@code process_group:} section of a config file sets (the others at their defaults); errors
   * name {@code where} and the key, an unknown key the nearest valid one.
   */
  public static ProcessGroupOptions fromMap(Map<String, ?> values, String where) {
    ConfigDef.Values v = DEF.parse(where, values);
    return builder().ringThresholdBytes(v.get(RING_THRESHOLD_BYTES)).sharedMemory(v.get(SHARED_MEMORY))
        .sharedMemoryArenaBytes(v.get(SHARED_MEMORY_ARENA_BYTES)).build();
  }

  public static ProcessGroupOptions defaults() {
    return builder().build();
  }

  public static Builder builder() {
    return new Builder();
  }

  public String backend() {
    return backend;
  }

  public Duration timeout() {
    return timeout;
  }

  public int ringThresholdBytes() {
    return ringThresholdBytes;
  }

  public boolean sharedMemory() {
    return sharedMemory;
  }

  public long sharedMemoryArenaBytes() {
    return sharedMemoryArenaBytes;
  }

  /** The CUDA device index of this rank's tensors, or -1 for the CPU. */
  public int cudaDevice() {
    return cudaDevice;
  }

  public Builder toBuilder() {
    return new Builder().backend(backend).timeout(timeout).ringThresholdBytes(ringThresholdBytes)
        .sharedMemory(sharedMemory).sharedMemoryArenaBytes(sharedMemoryArenaBytes).cudaDevice(cudaDevice);
  }

  @Override
  public String toString() {
    return "ProcessGroupOptions{backend=" + backend + ", timeout=" + timeout + ", ringThresholdBytes="
        + ringThresholdBytes + ", sharedMemory=" + sharedMemory + ", sharedMemoryArenaBytes=" + sharedMemoryArenaBytes + "}";
  }

  /** Builds {@link ProcessGroupOptions}. */
  public static final class Builder {
    private String backend = "tcp";
    private Duration timeout = Duration.ofMinutes(5);
    private int ringThresholdBytes = RING_THRESHOLD_BYTES.defaultValue();
    private boolean sharedMemory = SHARED_MEMORY.defaultValue();
    private long sharedMemoryArenaBytes = SHARED_MEMORY_ARENA_BYTES.defaultValue();
    private int cudaDevice = -1;

    private Builder() {}

    /** The CUDA device index of this rank's tensors; -1 (the default) for the CPU. */
    public Builder cudaDevice(int index) {
      if (index < -1) {
        throw new IllegalArgumentException("cudaDevice must be -1 (the CPU) or a device index, got " + index);
      }
      this.cudaDevice = index;
      return this;
    }

    public Builder backend(String backend) {
      this.backend = Objects.requireNonNull(backend, "backend");
      return this;
    }

    public Builder timeout(Duration timeout) {
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("timeout must be positive, got " + timeout);
      }
      this.timeout = timeout;
      return this;
    }

    public Builder ringThresholdBytes(int bytes) {
      check(RING_THRESHOLD_BYTES, bytes);
      this.ringThresholdBytes = bytes;
      return this;
    }

    public Builder sharedMemory(boolean enabled) {
      this.sharedMemory = enabled;
      return this;
    }

    /** At most 2 GiB less one page: a Java mapping holds at most {@code Integer.MAX_VALUE} bytes. */
    public Builder sharedMemoryArenaBytes(long bytes) {
      check(SHARED_MEMORY_ARENA_BYTES, bytes);
      this.sharedMemoryArenaBytes = bytes;
      return this;
    }

    private static <T> void check(ConfigKey<T> key, T value) {
      String problem = key.problem(value);
      if (problem != null) {
        throw new IllegalArgumentException(problem);
      }
    }

    public ProcessGroupOptions build() {
      return new ProcessGroupOptions(this);
    }
  }
}
