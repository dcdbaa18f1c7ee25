package io.sparkformers.training.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.sparkformers.training.models.SafeTensorsFile;
import io.sparkformers.training.models.SafeTensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointStoreTest {

  @TempDir Path dir;

  static CheckpointStore.Writer files(String state) {
    return folder -> {
      Files.writeString(folder.resolve("trainer_state.json"), state);
      try (NDManager m = NDManager.newBaseManager()) {
        NDArray w = m.create(new float[] {1f, -2f, 3.5f, 0f}, new Shape(2, 2));
        SafeTensorsWriter.write(folder.resolve("model.safetensors"), Map.of("w", w), Map.of("format", "pt"));
      }
    };
  }

  @Test
  void savesAtomicallyWithChecksumsAndReadsBack() throws IOException {
    CheckpointStore store = new CheckpointStore(dir.toString(), null);
    String where = store.save(5, files("{\"global_step\": 5}"));
    assertEquals(dir + "/checkpoint-5", where);
    assertFalse(Files.exists(dir.resolve("tmp-checkpoint-5")));
    assertTrue(Files.readString(dir.resolve("checkpoint-5/checksums.sha256")).contains("  trainer_state.json\n"));
    Path p = store.newestComplete().orElseThrow();
    assertEquals(dir.resolve("checkpoint-5"), p);
    try (SafeTensorsFile f = SafeTensorsFile.open(p.resolve("model.safetensors"))) {
      assertArrayEquals(new long[] {2, 2}, f.info("w").shape());
      assertArrayEquals(new float[] {1f, -2f, 3.5f, 0f}, f.readFloats("w"));
    }
  }

  @Test
  void corruptOrUnfinishedCheckpointIsSkippedForThePreviousOne() throws IOException {
    CheckpointStore store = new CheckpointStore(dir.toString(), null);
    store.save(10, files("{\"global_step\": 10}"));
    store.save(20, files("{\"global_step\": 20}"));
    store.save(30, files("{\"global_step\": 30}"));
    // 30: a flipped byte in the weights; 20: the manifest never written (a crash before the rename).
    Path weights = dir.resolve("checkpoint-30/model.safetensors");
    byte[] b = Files.readAllBytes(weights);
    b[b.length - 1] ^= 1;
    Files.write(weights, b);
    Files.delete(dir.resolve("checkpoint-20/checksums.sha256"));
    assertEquals(Optional.of(dir.resolve("checkpoint-10")), store.newestComplete());
    assertTrue(CheckpointStore.verify(dir.resolve("checkpoint-30")).startsWith("file model.safetensors has SHA-256"));
    assertTrue(CheckpointStore.verify(dir.resolve("checkpoint-20")).contains("was not finished"));
  }

  @Test
  void rotationKeepsTheNewestAndTheBest() throws IOException {
    CheckpointStore store = new CheckpointStore(dir.toString(), null);
    for (long s : new long[] {1, 2, 3, 4, 5}) {
      store.save(s, files("{}"));
    }
    // transformers moves the best just before the newest, then deletes from the front: [1, 3, 4, 2, 5].
    assertEquals(List.of(1L, 3L, 4L), store.rotate(2, dir + "/checkpoint-2"));
    assertEquals(List.of(2L, 5L), store.steps());
    // A limit of 1 keeps 2 when the best is not the newest (transformers' rule).
    assertEquals(List.of(), store.rotate(1, dir + "/checkpoint-2"));
    store.save(6, files("{}"));
    assertEquals(List.of(2L, 5L), store.rotate(1, dir + "/checkpoint-6"));
    assertEquals(List.of(6L), store.steps());
  }

  @Test
  void truncatedSafetensorsNamesTheFile() throws IOException {
    Path f = dir.resolve("bad.safetensors");
    Files.write(f, new byte[] {100, 0, 0, 0, 0, 0, 0, 0, '{', '}'});
    IOException e = assertThrows(IOException.class, () -> SafeTensorsFile.open(f));
    assertTrue(e.getMessage().startsWith(f + ": header length 100"), e.getMessage());
  }
}
