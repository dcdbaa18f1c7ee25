package io.sparkformers.training;

import java.io.PrintStream;
import java.util.Locale;
import java.util.Map;

/**
 * The console progress bar of rank 0 (transformers' tqdm bar): step, total, loss, learning rate and
 * throughput, redrawn in place; each log line printed below it.
 */
public final class ProgressBar implements TrainerCallback {
  private final PrintStream out;
  private long startNanos;
  private long startStep;
  private long lastStep;
  /** Steps run by earlier attempts of a retried stage. */
  private long stepsBefore;
  private double lastLoss = Double.NaN;
  private double lastLr = Double.NaN;
  private final long samplesPerStep;

  /** @param samplesPerStep rows consumed by one optimizer step over all ranks */
  public ProgressBar(PrintStream out, long samplesPerStep) {
    this.out = out;
    this.samplesPerStep = samplesPerStep;
  }

  /**
   * The first begin starts the clock. A later one is a retried stage resuming from a checkpoint: the clock
   * goes on, and the bar counts from the resumed step, the steps already run included in the throughput.
   */
  @Override
  public void onTrainBegin(TrainingArguments args, TrainerState state, TrainerControl control) {
    if (startNanos == 0) {
      startNanos = System.nanoTime();
    } else {
      stepsBefore += lastStep - startStep;
    }
    startStep = state.globalStep();
    lastStep = startStep;
  }

  @Override
  public void onStepEnd(TrainingArguments args, TrainerState state, TrainerControl control) {
    if (!state.isWorldProcessZero()) {
      return;
    }
    lastStep = state.globalStep();
    long done = stepsBefore + state.globalStep() - startStep;
    double seconds = (System.nanoTime() - startNanos) / 1e9;
    int width = 30;
    int filled = (int) (width * state.globalStep() / Math.max(1, state.maxSteps()));
    String bar = "#".repeat(Math.min(width, filled)) + " ".repeat(Math.max(0, width - filled));
    // Before the first log there is no loss or learning rate to show yet.
    String loss = Double.isNaN(lastLoss) ? "-" : String.format(Locale.ROOT, "%.4f", lastLoss);
    String lr = Double.isNaN(lastLr) ? "-" : String.format(Locale.ROOT, "%.3g", lastLr);
    out.print(String.format(Locale.ROOT, "\r%3d%%|%s| %d/%d [%.1fs, %.1f samples/s] loss %s lr %s   ",
        100 * state.globalStep() / Math.max(1, state.maxSteps()), bar, state.globalStep(), state.maxSteps(),
        seconds, done * samplesPerStep / Math.max(seconds, 1e-9), loss, lr));
    out.flush();
  }

  @Override
  public void onLog(TrainingArguments args, TrainerState state, TrainerControl control,
      Map<String, Object> logs) {
    if (logs.get("loss") instanceof Number n) {
      lastLoss = n.doubleValue();
    }
    if (logs.get("learning_rate") instanceof Number n) {
      lastLr = n.doubleValue();
    }
    if (state.isWorldProcessZero() && !logs.containsKey("loss")) {
      out.println();
      out.println(LogPrinter.json(logs));
    }
  }

  @Override
  public void onTrainEnd(TrainingArguments args, TrainerState state, TrainerControl control) {
    if (state.isWorldProcessZero()) {
      out.println();
    }
  }
}
