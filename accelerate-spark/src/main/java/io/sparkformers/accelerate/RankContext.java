package io.sparkformers.accelerate;

import ai.djl.Device;
import io.sparkformers.accelerate.internal.SingleRankProcessGroup;
import java.util.Collections;
import java.util.Iterator;

/**
 * What a rank knows about itself: its {@link ProcessGroup}, rank and world size, its device (a GPU from the
 * task's Spark resources, else the CPU), how many intra-op threads it should use (its share of the
 * executor's cores), the Spark stage attempt (a retried barrier stage restarts every rank with attempt + 1),
 * and, when launched over an RDD, the rank's partition of it.
 *
 * <p>The launcher owns the group: it is closed when the rank function returns.
 */
public final class RankContext {
  private final ProcessGroup processGroup;
  private final Device device;
  private final int intraOpThreads;
  private final int attempt;
  private final Iterator<?> partition;

  RankContext(ProcessGroup processGroup, Device device, int intraOpThreads, int attempt, Iterator<?> partition) {
    this.processGroup = processGroup;
    this.device = device;
    this.intraOpThreads = intraOpThreads;
    this.attempt = attempt;
    this.partition = partition;
  }

  /**
   * A context for a run without Spark: one rank on the CPU, all of this machine's cores, over {@code data}
   * (may be empty). What {@code Trainer.train()} without a SparkSession uses.
   */
  public static RankContext singleRank(Iterator<?> data) {
    GompSpinCount.setIfMissing();
    return new RankContext(new SingleRankProcessGroup(), Device.cpu(),
        Runtime.getRuntime().availableProcessors(), 0, data == null ? Collections.emptyIterator() : data);
  }

  public ProcessGroup processGroup() {
    return processGroup;
  }

  public int rank() {
    return processGroup.rank();
  }

  public int worldSize() {
    return processGroup.worldSize();
  }

  public boolean isMainProcess() {
    return rank() == 0;
  }

  public Device device() {
    return device;
  }

  /** Intra-op threads for this rank (DJL: {@code ai.djl.pytorch.num_threads}, which the launcher sets). */
  public int intraOpThreads() {
    return intraOpThreads;
  }

  /** The Spark stage attempt, 0 on the first run; a checkpoint-resuming loop reads it. */
  public int attempt() {
    return attempt;
  }

  /**
   * This rank's partition of the RDD the launch ran over (empty when launched without one). Iterate it
   * once: it is Spark's partition iterator.
   */
  @SuppressWarnings("unchecked")
  public <E> Iterator<E> partition() {
    return (Iterator<E>) partition;
  }
}
