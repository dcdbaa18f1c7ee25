package io.sparkformers.datasets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An empty CSV file is named as empty; a header row alone is a dataset of no rows, as Hugging Face loads it. */
class EmptyCsvTest {
  @TempDir Path dir;

  private LoadOptions options() {
    return LoadOptions.builder().cacheDir(dir.resolve("cache")).build();
  }

  @Test
  void anEmptyFileIsNamed() throws IOException {
    Path empty = Files.writeString(dir.resolve("empty.csv"), "");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Dataset.load(DataFormat.CSV, options(), empty.toString()));
    assertEquals("file:" + empty + " is empty: a CSV file needs a header row (or data rows without one)",
        e.getMessage());
  }

  @Test
  void aHeaderAloneGivesColumnsAndNoRowsAndAnEmptyFileBesideOthersAddsNothing() throws IOException {
    Path header = Files.writeString(dir.resolve("header.csv"), "a,b\n");
    try (Dataset d = Dataset.load(DataFormat.CSV, options(), header.toString())) {
      assertEquals(0, d.numRows());
      assertEquals(java.util.List.of("a", "b"), d.columnNames());
    }
    Path folder = Files.createDirectories(dir.resolve("parts"));
    Files.writeString(folder.resolve("0.csv"), "");
    Files.writeString(folder.resolve("1.csv"), "a,b\n1,2\n");
    try (Dataset d = Dataset.load(DataFormat.CSV, options(), folder.toString())) {
      assertEquals(1, d.numRows());
    }
  }
}
