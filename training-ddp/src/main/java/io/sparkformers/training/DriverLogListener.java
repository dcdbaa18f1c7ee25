package io.sparkformers.training;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparkformers.accelerate.DriverChannel;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * The driver's side of log streaming: opened around a training run, it receives rank 0's
 * log events (step, loss, learning_rate, grad_norm, epoch, throughput, eval metrics) over a
 * {@link DriverChannel} and replays them into callbacks on the driver — by default the progress bar and the
 * log lines on {@code System.err} — so that they appear where the job was launched even when the ranks are
 * executor JVMs. While it is open, rank 0's {@link Trainer} sends its events here instead of drawing the bar
 * itself.
 *
 * <pre>{@code
 * try (DriverLogListener logs = DriverLogListener.open(sc, 2)) {
 *   BarrierLauncher.run(sc, 2, ctx -> ... Trainer.builder(model, args).rankContext(ctx) ... .train());
 * }
 * }</pre>
 *
 * <p>Launch the run from the thread that opened the listener (Spark hands that thread's local properties to
 * the tasks). The callbacks see a mirror of rank 0's {@link TrainerState} (step, epoch, max steps, log
 * history) and rank 0's {@link TrainingArguments}; their control flags have no effect on the ranks.
 * A lost connection never fails training: the driver just stops receiving.
 */
public final class DriverLogListener implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final DriverChannel channel;
  private final List<TrainerCallback> callbacks;
  private final TrainerState state = new TrainerState();
  private final TrainerControl control = new TrainerControl();
  private final List<Map<String, Object>> history = new ArrayList<>();
  private final PrintStream out;
  private TrainingArguments args;
  private boolean ended;
  private String lastCheckpoint;

  private DriverLogListener(JavaSparkContext sc, int worldSize, PrintStream out, List<TrainerCallback> callbacks) {
    this.out = out;
    this.callbacks = new ArrayList<>(callbacks);
    this.channel = DriverChannel.open(sc, worldSize, new DriverChannel.Listener() {
      @Override
      public void onMessage(int rank, String message) {
        DriverLogListener.this.onMessage(rank, message);
      }

      @Override
      public void onStageRetry(String reason, int attempt, int maxAttempts) {
        DriverLogListener.this.onStageRetry(reason, attempt, maxAttempts);
      }

      @Override
      public void onLaunchNote(String line) {
        DriverLogListener.this.println(line);
      }
    });
  }

  /**
   * One line where the job was launched: why the stage runs again and from which checkpoint (the newest that
   * rank 0 reported complete, which is the one every rank of a retried stage resumes from).
   */
  private synchronized void onStageRetry(String reason, int attempt, int maxAttempts) {
    println(reason + "; retrying the stage (attempt " + attempt + " of " + maxAttempts + ") from "
        + (lastCheckpoint != null ? lastCheckpoint : "the start (no checkpoint was saved)"));
  }

  /** A line below the progress bar (or in the log when there is no bar). */
  private synchronized void println(String line) {
    if (out == null) {
      java.util.logging.Logger.getLogger(DriverLogListener.class.getName()).warning(line);
      return;
    }
    out.println();
    out.println(line);
    out.flush();
  }

  /** Listens for a run of {@code worldSize} ranks and draws the progress bar and log lines on System.err. */
  public static DriverLogListener open(JavaSparkContext sc, int worldSize) {
    return new DriverLogListener(sc, worldSize, System.err, List.of());
  }

  /**
   * Listens for a run of {@code worldSize} ranks, replaying its events into {@code callbacks}, and, when
   * {@code progress} is not null, into a progress bar drawn there.
   */
  public static DriverLogListener open(JavaSparkContext sc, int worldSize, PrintStream progress,
      List<TrainerCallback> callbacks) {
    return new DriverLogListener(sc, worldSize, progress, callbacks);
  }

  /** The log entries received so far (each with its {@code step}), as rank 0's log history holds them. */
  public synchronized List<Map<String, Object>> logHistory() {
    return Collections.unmodifiableList(new ArrayList<>(history));
  }

  /** Whether rank 0's {@code train_end} arrived. */
  public synchronized boolean trainEnded() {
    return ended;
  }

  @SuppressWarnings("unchecked")
  private synchronized void onMessage(int rank, String message) {
    Map<String, Object> e;
    try {
      e = JSON.readValue(message, Map.class);
    } catch (IOException ex) {
      throw new UncheckedIOException("rank " + rank + " sent a log event that is not JSON", ex);
    }
    state.globalStep = ((Number) e.getOrDefault("global_step", 0)).longValue();
    state.epoch = ((Number) e.getOrDefault("epoch", 0)).doubleValue();
    switch (String.valueOf(e.get("event"))) {
      case "train_begin" -> {
        state.maxSteps = ((Number) e.get("max_steps")).longValue();
        // A retried stage resumes from a checkpoint and logs the steps after it again: keep each step once.
        history.removeIf(h -> ((Number) h.get("step")).longValue() > state.globalStep);
        state.logHistory.removeIf(h -> ((Number) h.get("step")).longValue() > state.globalStep);
        try {
          args = TrainingArguments.fromMap((Map<String, ?>) e.get("args"), "rank " + rank + "'s arguments");
        } catch (RuntimeException ex) {
          args = null; // arguments of another version: the callbacks get none
        }
        if (out != null && callbacks.stream().noneMatch(c -> c instanceof ProgressBar)) {
          callbacks.add(new ProgressBar(out, ((Number) e.get("samples_per_step")).longValue()));
        }
        callbacks.forEach(c -> c.onTrainBegin(args, state, control));
      }
      case "step_end" -> callbacks.forEach(c -> c.onStepEnd(args, state, control));
      case "log" -> {
        Map<String, Object> logs = new LinkedHashMap<>((Map<String, Object>) e.get("logs"));
        Map<String, Object> entry = new LinkedHashMap<>(logs);
        entry.put("step", state.globalStep);
        history.add(entry);
        state.logHistory.add(entry);
        if (logs.get("loss") instanceof Number n) {
          state.lastStepLoss = n.doubleValue();
        }
        callbacks.forEach(c -> c.onLog(args, state, control, logs));
      }
      case "save" -> lastCheckpoint = String.valueOf(e.get("checkpoint"));
      case "train_end" -> {
        ended = true;
        callbacks.forEach(c -> c.onTrainEnd(args, state, control));
      }
      default -> { } // an event of a newer version: ignored
    }
  }

  /** Waits (up to 5 s) for rank 0's last events, then stops listening. */
  @Override
  public void close() {
    channel.close();
  }
}
