package io.sparkformers.accelerate.tcp;

import java.time.Duration;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Says, at intervals, what a rank is waiting for while a collective waits (as NCCL's watchdog does): "rank 0:
 * waiting 20 s for rank 1 in collective #57 ALL_REDUCE", so that a stuck or stopped peer is named in every
 * rank's log long before the timeout fails the collective. Called from the slow path of a wait only.
 */
final class Watchdog {
  private static final Logger LOG = LoggerFactory.getLogger(Watchdog.class);

  private final int rank;
  private final long intervalNanos;
  private final long timeoutNanos;
  private long waitStart = Long.MIN_VALUE;
  private long nextReport;

  Watchdog(int rank, Duration timeout) {
    this.rank = rank;
    this.timeoutNanos = timeout.toNanos();
    this.intervalNanos = interval(timeout).toNanos();
  }

  /** A sixth of the timeout, between 1 s and 60 s: a few lines before a timeout fires, never a flood. */
  static Duration interval(Duration timeout) {
    long millis = Math.max(1_000, Math.min(60_000, timeout.toMillis() / 6));
    return Duration.ofMillis(millis);
  }

  /**
   * Called while a wait that began at {@code startNanos} goes on; logs when an interval has passed since the
   * wait began or since the last line. {@code forWhom} ("rank 1") is only evaluated when a line is due.
   */
  void waiting(long startNanos, long seq, String what, Supplier<String> forWhom) {
    long now = System.nanoTime();
    if (startNanos != waitStart) {
      waitStart = startNanos;
      nextReport = startNanos + intervalNanos;
    }
    if (now - nextReport < 0) {
      return;
    }
    nextReport = now + intervalNanos;
    LOG.warn("rank {}: waiting {} s for {} in collective #{} {} (it fails after {} s: ddp_timeout)", rank,
        (now - startNanos) / 1_000_000_000L, forWhom.get(), seq, what, timeoutNanos / 1_000_000_000L);
  }
}
