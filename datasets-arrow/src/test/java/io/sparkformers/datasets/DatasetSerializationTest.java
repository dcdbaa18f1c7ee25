package io.sparkformers.datasets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.NotSerializableException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A dataset crosses Java serialization (into a Spark task) as its files and view, and maps them again. */
class DatasetSerializationTest {
  @TempDir Path tmp;

  private static Object roundTrip(Object o) throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(o);
    }
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      return in.readObject();
    }
  }

  private Dataset saved(int n) {
    List<Map<String, Object>> rows = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      rows.add(Map.of("x", (long) i, "name", "r" + i));
    }
    Path folder = tmp.resolve("saved");
    try (Dataset d = Dataset.fromRows(Features.of("x", ColumnType.INT64, "name", ColumnType.STRING), rows,
        tmp.resolve("cache"))) {
      d.saveToDisk(folder);
    }
    return Dataset.loadFromDisk(folder);
  }

  @Test
  void aShuffledRenamedViewComesBackWithTheSameRows() throws Exception {
    try (Dataset d = saved(10); Dataset view = d.shuffle(7).renameColumn("name", "label").select(3, 1, 4);
        Dataset copy = (Dataset) roundTrip(view)) {
      assertEquals(view.features(), copy.features());
      assertEquals(3, copy.numRows());
      for (long i = 0; i < 3; i++) {
        assertEquals(view.row(i), copy.row(i));
      }
      assertEquals(view.fingerprint(), copy.fingerprint());
    }
  }

  @Test
  void theCopyOutlivesTheOriginal() throws Exception {
    Dataset copy;
    try (Dataset d = saved(4)) {
      copy = (Dataset) roundTrip(d);
    }
    try (copy) {
      assertEquals(Map.of("x", 3L, "name", "r3"), copy.row(3));
    }
  }

  @Test
  void aDatasetInATemporaryFolderSaysHowToSendIt() {
    try (Dataset temp = Dataset.fromRows(Features.of("x", ColumnType.INT64), List.of(Map.of("x", 1L)))) {
      NotSerializableException e = assertThrows(NotSerializableException.class, () -> roundTrip(temp));
      assertTrue(e.getMessage().contains("saveToDisk(folder)"), e.getMessage());
    }
  }

  @Test
  void filesTheReceiverCannotSeeAreNamed() throws Exception {
    Path folder = tmp.resolve("gone");
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (Dataset d = saved(2)) {
      d.saveToDisk(folder);
    }
    try (Dataset d = Dataset.loadFromDisk(folder); ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(d);
    }
    try (var files = Files.list(folder)) {
      for (Path f : files.toList()) {
        Files.delete(f);
      }
    }
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> {
      try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
        in.readObject();
      }
    });
    assertTrue(e.getMessage().contains("which this machine does not see"), e.getMessage());
  }
}
