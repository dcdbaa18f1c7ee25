package io.sparkformers.jobs.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkformers.training.TrainingArguments;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** overwrite_output_dir as transformers' example scripts: a previous run's folder is never silently reused. */
class OutputDirTest {
  @TempDir Path tmp;

  /** An output folder as a finished run leaves it, plus a file of the user's. */
  private Path previousRun() throws IOException {
    Path out = tmp.resolve("out");
    Files.createDirectories(out.resolve("checkpoint-10"));
    Files.writeString(out.resolve("checkpoint-10/trainer_state.json"), "{}");
    Files.createDirectories(out.resolve("tmp-checkpoint-20"));
    Files.createDirectories(out.resolve("model"));
    Files.writeString(out.resolve("model/config.json"), "{}");
    Files.writeString(out.resolve("metrics.json"), "{}");
    Files.writeString(out.resolve("log_history.jsonl"), "{\"step\": 10}\n");
    Files.writeString(out.resolve("notes.txt"), "mine");
    return out;
  }

  private static TrainingArguments args(Path out, String... keyValues) {
    Map<String, Object> m = new java.util.LinkedHashMap<>();
    m.put("output_dir", out.toString());
    for (int i = 0; i < keyValues.length; i += 2) {
      m.put(keyValues[i], keyValues[i + 1]);
    }
    return TrainingArguments.fromMap(m, "job.yaml: training_args");
  }

  private static List<String> names(Path dir) throws IOException {
    try (var s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void aFolderHoldingFilesIsAnErrorNamingThemAndTheWayOut() throws IOException {
    Path out = previousRun();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> OutputDir.prepare(args(out), Map.of(), "job.yaml"));
    // A usage error (exit code 2): running it again unchanged fails again.
    assertEquals(io.sparkformers.jobs.ExitCodes.USAGE, io.sparkformers.jobs.ExitCodes.of(e));
    assertEquals("job.yaml: key 'training_args.output_dir': " + out + " already exists and is not empty"
        + " (checkpoint-10, log_history.jsonl, metrics.json, model, notes.txt, ... 6 entries): set"
        + " training_args.overwrite_output_dir: true to replace the previous run, or"
        + " training_args.resume_from_checkpoint: true to continue it", e.getMessage());
    assertEquals(List.of("checkpoint-10", "log_history.jsonl", "metrics.json", "model", "notes.txt",
        "tmp-checkpoint-20"), names(out));
  }

  @Test
  void overwriteRemovesThePreviousRunsFilesOnly() throws IOException {
    Path out = previousRun();
    OutputDir.prepare(args(out, "overwrite_output_dir", "true"), Map.of(), "job.yaml");
    assertEquals(List.of("notes.txt"), names(out));
  }

  @Test
  void resumingKeepsEverything() throws IOException {
    Path out = previousRun();
    OutputDir.prepare(args(out, "resume_from_checkpoint", "true"), Map.of(), "job.yaml");
    assertEquals(6, names(out).size());
  }

  @Test
  void aMissingOrEmptyFolderIsFine() throws IOException {
    OutputDir.prepare(args(tmp.resolve("new")), Map.of(), "job.yaml");
    Path empty = Files.createDirectories(tmp.resolve("empty"));
    OutputDir.prepare(args(empty), Map.of(), "job.yaml");
    assertTrue(Files.isDirectory(empty));
  }

  @Test
  void aFileInItsPlaceIsAnError() throws IOException {
    Path file = Files.writeString(tmp.resolve("f"), "x");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> OutputDir.prepare(args(file), Map.of(), "job.yaml"));
    assertTrue(e.getMessage().contains(file + " is a file, not a folder"), e.getMessage());
  }
}
