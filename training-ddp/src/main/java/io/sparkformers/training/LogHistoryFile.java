package io.sparkformers.training;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Appends each log entry, with its {@code step}, as one JSON line to a file ({@code log_history.jsonl} in the
 * output folder), as it happens: a run that dies keeps every line logged before.
 */
final class LogHistoryFile implements TrainerCallback {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final Path file;

  LogHistoryFile(Path file) {
    this.file = file;
  }

  @Override
  public void onLog(TrainingArguments args, TrainerState state, TrainerControl control, Map<String, Object> logs) {
    Map<String, Object> entry = new LinkedHashMap<>(logs);
    entry.put("step", state.globalStep());
    try {
      Files.createDirectories(file.toAbsolutePath().getParent());
      Files.writeString(file, line(entry), StandardCharsets.UTF_8, StandardOpenOption.CREATE,
          StandardOpenOption.APPEND);
    } catch (IOException e) {
      throw new UncheckedIOException("could not append to " + file, e);
    }
  }

  private static String line(Map<String, Object> entry) throws JsonProcessingException {
    return JSON.writeValueAsString(entry) + "\n";
  }
}
