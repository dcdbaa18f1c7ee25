package io.sparkformers.training.models;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Saved weights get the mode of any file the process creates (the umask's), as config.json beside them does. */
class SavedFileModesTest {
  @TempDir Path tmp;

  private Set<PosixFilePermission> plainMode() throws IOException {
    return Files.getPosixFilePermissions(Files.writeString(tmp.resolve("plain.txt"), "x"));
  }

  @Test
  void safetensorsFilesHaveTheProcessUmasksMode() throws IOException {
    Path file = tmp.resolve("w/model.safetensors");
    try (NDManager m = NDManager.newBaseManager()) {
      SafeTensorsWriter.write(file, Map.of("a", m.ones(new ai.djl.ndarray.types.Shape(2, 3))), Map.of());
    }
    assertEquals(plainMode(), Files.getPosixFilePermissions(file));
    try (Stream<Path> s = Files.list(file.getParent())) {
      assertEquals(List.of("model.safetensors"), s.map(p -> p.getFileName().toString()).toList());
    }
  }

  @Test
  void aSavedModelFolderHasOneModeForAllItsFiles() throws IOException {
    Path folder = tmp.resolve("mlp");
    try (PreTrainedModel model = AutoModel.fromConfig(AutoConfig.fromJson("{\"model_type\": \"mlp\","
        + " \"input_size\": 4, \"hidden_sizes\": [8], \"num_labels\": 3}", "test"))) {
      model.savePretrained(folder);
    }
    Set<PosixFilePermission> expected = plainMode();
    assertEquals(expected, Files.getPosixFilePermissions(folder.resolve("config.json")));
    assertEquals(expected, Files.getPosixFilePermissions(folder.resolve("model.safetensors")));
  }
}
