package io.sparkformers.training.schedule;

import io.sparkformers.training.SchedulerType;

/**
 * transformers' schedules as torch's {@code LambdaLR}: the learning rate of optimizer step {@code s}
 * (0-based) is {@code base_lr * lambda(s)}; {@link #step()} moves to the next step (torch's
 * {@code scheduler.step()} after each optimizer step). Arithmetic in double, as Python's.
 */
public final class LrScheduler {
  private final SchedulerType type;
  private final double baseLr;
  private final long warmupSteps;
  private final long trainingSteps;
  private long lastEpoch;

  /**
   * @param type the schedule
   * @param trainingSteps the total optimizer steps ({@code num_training_steps})
   */
  public LrScheduler(SchedulerType type, double baseLr, long warmupSteps, long trainingSteps) {
    this.type = java.util.Objects.requireNonNull(type, "type");
    this.baseLr = baseLr;
    this.warmupSteps = warmupSteps;
    this.trainingSteps = trainingSteps;
  }

  /**
   * @param type linear, cosine, constant or constant_with_warmup (an unknown name is an error listing them)
   * @param trainingSteps the total optimizer steps ({@code num_training_steps})
   */
  public LrScheduler(String type, double baseLr, long warmupSteps, long trainingSteps) {
    this(SchedulerType.parse(type), baseLr, warmupSteps, trainingSteps);
  }

  /** The multiplier of the base learning rate at step {@code s}, as transformers' lr_lambda. */
  public double lambda(long s) {
    double current = s;
    switch (type) {
      case CONSTANT:
        return 1.0;
      case CONSTANT_WITH_WARMUP:
        if (s < warmupSteps) {
          return current / Math.max(1.0, warmupSteps);
        }
        return 1.0;
      case LINEAR:
        if (s < warmupSteps) {
          return current / Math.max(1, warmupSteps);
        }
        return Math.max(0.0, (double) (trainingSteps - s) / Math.max(1, trainingSteps - warmupSteps));
      case COSINE: {
        if (s < warmupSteps) {
          return current / Math.max(1, warmupSteps);
        }
        double progress = (double) (s - warmupSteps) / Math.max(1, trainingSteps - warmupSteps);
        double numCycles = 0.5;
        return Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * numCycles * 2.0 * progress)));
      }
      default:
        throw new IllegalStateException(type.value());
    }
  }

  /** The learning rate the next optimizer step uses ({@code get_last_lr()[0]}). */
  public double lr() {
    return baseLr * lambda(lastEpoch);
  }

  /** Advances one optimizer step. */
  public void step() {
    lastEpoch++;
  }

  /** The number of steps taken ({@code last_epoch}), saved in checkpoints. */
  public long lastEpoch() {
    return lastEpoch;
  }

  public void setLastEpoch(long lastEpoch) {
    this.lastEpoch = lastEpoch;
  }

  /** The schedule's name as transformers spells it (what a checkpoint's scheduler state records). */
  public String type() {
    return type.value();
  }

  public SchedulerType schedulerType() {
    return type;
  }

  public double baseLr() {
    return baseLr;
  }
}
