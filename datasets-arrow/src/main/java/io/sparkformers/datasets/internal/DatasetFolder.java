package io.sparkformers.datasets.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sparkformers.datasets.ColumnType;
import io.sparkformers.datasets.Features;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * A dataset folder on disk: Arrow IPC files {@code data-00000-of-00002.arrow} ... and {@code state.json}
 * naming them with the features, row count and fingerprint. The state file is written last, by rename, so
 * a folder without it is incomplete and is never read as a cache hit.
 */
public final class DatasetFolder {
  public static final String STATE_FILE = "state.json";
  private static final ObjectMapper JSON = new ObjectMapper();

  /** What {@code state.json} holds. */
  public record State(String fingerprint, Features features, long rows, List<String> files) {}

  private DatasetFolder() {}

  public static String fileName(int index, int count) {
    return String.format("data-%05d-of-%05d.arrow", index, count);
  }

  public static boolean isComplete(Path folder) {
    return Files.isRegularFile(folder.resolve(STATE_FILE));
  }

  public static State read(Path folder) {
    Path file = folder.resolve(STATE_FILE);
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException(folder + " is not a dataset folder: it has no " + STATE_FILE);
    }
    try {
      JsonNode root = JSON.readTree(file.toFile());
      Features.Builder features = Features.builder();
      Iterator<Map.Entry<String, JsonNode>> it = root.get("features").fields();
      while (it.hasNext()) {
        Map.Entry<String, JsonNode> e = it.next();
        features.add(e.getKey(), ColumnType.valueOf(e.getValue().asText()));
      }
      List<String> files = new ArrayList<>();
      root.get("files").forEach(f -> files.add(f.asText()));
      return new State(root.get("fingerprint").asText(), features.build(), root.get("num_rows").asLong(), files);
    } catch (IOException | RuntimeException e) {
      throw new IllegalArgumentException(file + ": not a valid dataset state file: " + e.getMessage(), e);
    }
  }

  public static void write(Path folder, State state) {
    ObjectNode root = JSON.createObjectNode();
    root.put("fingerprint", state.fingerprint());
    root.put("num_rows", state.rows());
    ObjectNode features = root.putObject("features");
    state.features().asMap().forEach((n, t) -> features.put(n, t.name()));
    ArrayNode files = root.putArray("files");
    state.files().forEach(files::add);
    Path target = folder.resolve(STATE_FILE);
    Path temp = folder.resolve("." + STATE_FILE + ".tmp-" + UUID.randomUUID());
    try {
      Files.createDirectories(folder);
      JSON.writerWithDefaultPrettyPrinter().writeValue(temp.toFile(), root);
      try {
        Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot write " + target, e);
    }
  }

  /** The size in bytes of the folder's Arrow files. */
  public static long sizeInBytes(Path folder, State state) {
    long total = 0;
    for (String f : state.files()) {
      try {
        total += Files.size(folder.resolve(f));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return total;
  }
}
