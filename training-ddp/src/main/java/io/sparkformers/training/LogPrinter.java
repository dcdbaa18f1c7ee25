package io.sparkformers.training;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.util.Map;

/**
 * Rank 0's log entries, one JSON object a line, without a progress bar: transformers' PrinterCallback, which
 * takes the bar's place when {@code disable_tqdm} is true, so that a scheduler's log (Airflow, spark-submit's
 * stderr) still has every loss, learning rate and evaluation.
 */
public final class LogPrinter implements TrainerCallback {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final PrintStream out;

  public LogPrinter(PrintStream out) {
    this.out = out;
  }

  @Override
  public void onLog(TrainingArguments args, TrainerState state, TrainerControl control, Map<String, Object> logs) {
    if (state.isWorldProcessZero()) {
      out.println(json(logs));
      out.flush();
    }
  }

  /** A log entry as one line of JSON (what the bar and this printer show). */
  static String json(Map<String, Object> logs) {
    try {
      return JSON.writeValueAsString(logs);
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }
}
