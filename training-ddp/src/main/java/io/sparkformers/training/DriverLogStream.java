package io.sparkformers.training;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparkformers.accelerate.DriverChannel;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Rank 0's side of log streaming: a callback that sends the training's events to the driver's
 * {@link DriverLogListener} as JSON lines ({@code train_begin}, {@code step_end}, {@code log},
 * {@code save}, {@code train_end}). Step ends are sent at most every 100 ms (the bar needs no more), logs always.
 */
final class DriverLogStream implements TrainerCallback {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long STEP_INTERVAL_NANOS = 100_000_000L;

  private final DriverChannel.Sender sender;
  private final long samplesPerStep;
  private long lastStepSent;

  DriverLogStream(DriverChannel.Sender sender, long samplesPerStep) {
    this.sender = sender;
    this.samplesPerStep = samplesPerStep;
  }

  @Override
  public void onTrainBegin(TrainingArguments args, TrainerState state, TrainerControl control) {
    Map<String, Object> e = event("train_begin", state);
    e.put("max_steps", state.maxSteps);
    e.put("samples_per_step", samplesPerStep);
    e.put("args", args.toMap());
    send(e);
    lastStepSent = System.nanoTime();
  }

  @Override
  public void onStepEnd(TrainingArguments args, TrainerState state, TrainerControl control) {
    long now = System.nanoTime();
    if (now - lastStepSent >= STEP_INTERVAL_NANOS || state.globalStep >= state.maxSteps) {
      lastStepSent = now;
      send(event("step_end", state));
    }
  }

  @Override
  public void onLog(TrainingArguments args, TrainerState state, TrainerControl control, Map<String, Object> logs) {
    Map<String, Object> e = event("log", state);
    e.put("logs", logs);
    send(e);
  }

  /** The driver names this checkpoint as where a retried stage resumes (the newest complete one). */
  @Override
  public void onSave(TrainingArguments args, TrainerState state, TrainerControl control) {
    Map<String, Object> e = event("save", state);
    e.put("checkpoint", "checkpoint-" + state.globalStep);
    send(e);
  }

  @Override
  public void onTrainEnd(TrainingArguments args, TrainerState state, TrainerControl control) {
    send(event("train_end", state));
  }

  private static Map<String, Object> event(String name, TrainerState state) {
    Map<String, Object> e = new LinkedHashMap<>();
    e.put("event", name);
    e.put("global_step", state.globalStep);
    e.put("epoch", state.epoch);
    return e;
  }

  private void send(Map<String, Object> event) {
    try {
      sender.send(JSON.writeValueAsString(event));
    } catch (JsonProcessingException e) {
      // Log values are numbers and strings; should one not serialise, the driver misses that event only.
      java.util.logging.Logger.getLogger(DriverLogStream.class.getName())
          .warning("could not send a log event to the driver: " + e.getMessage());
    }
  }
}
