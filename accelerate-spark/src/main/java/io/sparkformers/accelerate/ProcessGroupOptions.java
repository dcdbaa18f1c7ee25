package io.sparkformers.accelerate;

import java.time.Duration;
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
 * </ul>
 */
public final class ProcessGroupOptions implements java.io.Serializable {
  private static final long serialVersionUID = 1L;

  private final String backend;
  private final Duration timeout;
  private final int ringThresholdBytes;
  private final boolean sharedMemory;
  private final long sharedMemoryArenaBytes;

  private ProcessGroupOptions(Builder b) {
    this.backend = b.backend;
    this.timeout = b.timeout;
    this.ringThresholdBytes = b.ringThresholdBytes;
    this.sharedMemory = b.sharedMemory;
    this.sharedMemoryArenaBytes = b.sharedMemoryArenaBytes;
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

  public Builder toBuilder() {
    return new Builder().backend(backend).timeout(timeout).ringThresholdBytes(ringThresholdBytes)
        .sharedMemory(sharedMemory).sharedMemoryArenaBytes(sharedMemoryArenaBytes);
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
    private int ringThresholdBytes = 256 * 1024;
    private boolean sharedMemory = true;
    private long sharedMemoryArenaBytes = 1L << 30;

    private Builder() {}

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
      if (bytes < 0) {
        throw new IllegalArgumentException("ringThresholdBytes must be >= 0, got " + bytes);
      }
      this.ringThresholdBytes = bytes;
      return this;
    }

    public Builder sharedMemory(boolean enabled) {
      this.sharedMemory = enabled;
      return this;
    }

    /** At most 2 GiB less one page: a Java mapping holds at most {@code Integer.MAX_VALUE} bytes. */
    public Builder sharedMemoryArenaBytes(long bytes) {
      if (bytes < 0 || bytes > Integer.MAX_VALUE - 4095) {
        throw new IllegalArgumentException("sharedMemoryArenaBytes must be between 0 and " + (Integer.MAX_VALUE - 4095)
            + ", got " + bytes);
      }
      this.sharedMemoryArenaBytes = bytes;
      return this;
    }

    public ProcessGroupOptions build() {
      return new ProcessGroupOptions(this);
    }
  }
}
