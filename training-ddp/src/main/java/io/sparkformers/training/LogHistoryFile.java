package io.sparkformers.training;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Appends each log entry, with its {@code step}, as one JSON line to a file ({@code log_history.jsonl} in the
 * output folder), as it happens: a run that dies keeps every line logged before. When training begins, the file
 * is rewritten to hold exactly the history so far (that of the checkpoint a run resumes from, or none), so a
 * resumed run does not repeat the steps logged after that checkpoint and a new run does not follow an old one.
 */
final class LogHistoryFile implements TrainerCallback {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final Path file;

  LogHistoryFile(Path file) {
    this.file = file;
  }

  @Override
  public void onTrainBegin(TrainingArguments args, TrainerState state, TrainerControl control) {
    StringBuilder text = new StringBuilder();
    try {
      for (Map<String, Object> entry : state.logHistory()) {
        text.append(line(entry));
      }
      Files.createDirectories(file.toAbsolutePath().getParent());
      Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
      Files.writeString(tmp, text, StandardCharsets.UTF_8);
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException("could not write " + file, e);
    }
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
