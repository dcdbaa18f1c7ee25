package io.sparkformers.training.schedule;

/**
 * transformers' schedules as torch's {@code LambdaLR}: the learning rate of optimizer step {@code s}
 * (0-based) is {@code base_lr * lambda(s)}; {@link #step()} moves to the next step (torch's
 * {@code scheduler.step()} after each optimizer step). Arithmetic in double, as Python's.
 */
public final class LrScheduler {
  private final String type;
  private final double baseLr;
  private final long warmupSteps;
  private final long trainingSteps;
  private long lastEpoch;

  /**
   * @param type linear, cosine, constant or constant_with_warmup
   * @param trainingSteps the total optimizer steps ({@code num_training_steps})
   */
  public LrScheduler(String type, double baseLr, long warmupSteps, long trainingSteps) {
    switch (type) {
      case "linear", "cosine", "constant", "constant_with_warmup" -> { }
      default -> throw new IllegalArgumentException(type + " is not a valid SchedulerType, please select one"
          + " of [linear, cosine, constant, constant_with_warmup]");
    }
    this.type = type;
    this.baseLr = baseLr;
    this.warmupSteps = warmupSteps;
    this.trainingSteps = trainingSteps;
  }

  /** The multiplier of the base learning rate at step {@code s}, as transformers' lr_lambda. */
  public double lambda(long s) {
    double current = s;
    switch (type) {
      case "constant":
        return 1.0;
      case "constant_with_warmup":
        if (s < warmupSteps) {
          return current / Math.max(1.0, warmupSteps);
        }
        return 1.0;
      case "linear":
        if (s < warmupSteps) {
          return current / Math.max(1, warmupSteps);
        }
        return Math.max(0.0, (double) (trainingSteps - s) / Math.max(1, trainingSteps - warmupSteps));
      case "cosine": {
        if (s < warmupSteps) {
          return current / Math.max(1, warmupSteps);
        }
        double progress = (double) (s - warmupSteps) / Math.max(1, trainingSteps - warmupSteps);
        double numCycles = 0.5;
        return Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * numCycles * 2.0 * progress)));
      }
      default:
        throw new IllegalStateException(type);
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

  public String type() {
    return type;
  }

  public double baseLr() {
    return baseLr;
  }
}
