package io.sparkformers.accelerate;

import io.sparkformers.accelerate.internal.Backends;
import io.sparkformers.accelerate.internal.EnvRendezvous;
import io.sparkformers.accelerate.internal.SingleRankProcessGroup;
import java.util.Map;

/**
 * Opens process groups outside Spark. Inside a Spark job use {@link BarrierLauncher}, which opens the group
 * for each rank.
 *
 * <pre>{@code
 * try (ProcessGroup pg = ProcessGroups.singleRank()) { ... }           // one rank, no Spark, no sockets
 * try (ProcessGroup pg = ProcessGroups.fromEnvironment()) { ... }      // torchrun-style variables
 * }</pre>
 */
public final class ProcessGroups {
  private ProcessGroups() {}

  /** A group of one rank (world size 1): what training without Spark uses. */
  public static ProcessGroup singleRank() {
    GompSpinCount.setIfMissing();
    return new SingleRankProcessGroup();
  }

  /**
   * Forms a group of plain processes on one machine (or several) from MASTER_ADDR, MASTER_PORT, RANK and
   * WORLD_SIZE, as torchrun sets them, and optionally SPARKFORMERS_SECRET (base64). Blocks until every rank
   * has joined or the options' timeout passes.
   */
  public static ProcessGroup fromEnvironment() {
    return fromEnvironment(System.getenv(), ProcessGroupOptions.defaults());
  }

  /** {@link #fromEnvironment()} with the variables given as a map (tests run ranks as threads this way). */
  public static ProcessGroup fromEnvironment(Map<String, String> env, ProcessGroupOptions options) {
    GompSpinCount.setIfMissing();
    return EnvRendezvous.open(env, options);
  }

  /** The backend of that name, e.g. {@code "tcp"}; unknown names fail with the list of known ones. */
  public static ProcessGroupBackend backend(String name) {
    return Backends.named(name);
  }
}
