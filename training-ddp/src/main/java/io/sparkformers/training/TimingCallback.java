package io.sparkformers.training;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Where the training time goes, summed over the optimizer steps run: the whole step, the forward and
 * backward passes of its micro-batches, and the optimizer part (gradient synchronisation, clipping, update,
 * zeroing). One per Trainer; it times the thread that runs the loop.
 */
public final class TimingCallback implements TrainerCallback {
  private long stepStart;
  private long optimizerStart;
  private long stepNanos;
  private long forwardBackwardNanos;
  private long optimizerNanos;

  @Override
  public void onStepBegin(TrainingArguments args, TrainerState state, TrainerControl control) {
    stepStart = System.nanoTime();
  }

  @Override
  public void onPreOptimizerStep(TrainingArguments args, TrainerState state, TrainerControl control) {
    optimizerStart = System.nanoTime();
    forwardBackwardNanos += optimizerStart - stepStart;
  }

  @Override
  public void onOptimizerStep(TrainingArguments args, TrainerState state, TrainerControl control) {
    long now = System.nanoTime();
    optimizerNanos += now - optimizerStart;
    stepNanos += now - stepStart;
  }

  /** Nanoseconds in whole optimizer steps so far. */
  public long stepNanos() {
    return stepNanos;
  }

  /** Seconds: {@code step}, {@code forward_backward} and {@code optimizer}. */
  public Map<String, Double> seconds() {
    Map<String, Double> t = new LinkedHashMap<>();
    t.put("step", stepNanos / 1e9);
    t.put("forward_backward", forwardBackwardNanos / 1e9);
    t.put("optimizer", optimizerNanos / 1e9);
    return t;
  }
}
