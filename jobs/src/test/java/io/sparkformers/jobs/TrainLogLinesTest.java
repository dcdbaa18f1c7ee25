package io.sparkformers.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** disable_tqdm: true drops the progress bar where the job was launched, not the log lines a scheduler keeps. */
class TrainLogLinesTest {
  @TempDir Path tmp;

  @Test
  void withoutTheBarEachLogEntryIsAJsonLineOnTheDriver() {
    PrintStream saved = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    int code;
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      code = SparkformersCommand.commandLine().execute("quickstart", "--output", tmp.resolve("qs").toString(),
          "--set", "max_steps=4", "--set", "logging_steps=2", "--set", "save_strategy=no", "--set",
          "eval_strategy=no", "--set", "load_best_model_at_end=false", "--set", "disable_tqdm=true");
    } finally {
      System.setErr(saved);
    }
    String err = captured.toString(StandardCharsets.UTF_8);
    assertEquals(0, code, err);
    assertFalse(err.contains("\r"), "no progress bar is drawn: " + err);
    List<String> losses = err.lines().filter(l -> l.startsWith("{\"loss\":")).toList();
    assertEquals(2, losses.size(), err);
    assertTrue(losses.get(0).contains("\"learning_rate\":"), losses.get(0));
    assertTrue(err.lines().anyMatch(l -> l.startsWith("{\"train_runtime\":")), err);
  }
}
