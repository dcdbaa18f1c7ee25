package io.sparkformers.datasets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkformers.datasets.internal.SparkArrow;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.Metadata;
import org.apache.spark.sql.types.StructField;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A column of string lists (evaluate's {@code references}): loaded from JSON lines, stored, read back, written. */
class StringListColumnTest {
  @TempDir Path dir;

  @Test
  void jsonLinesReferencesBecomeAStringListColumn() throws IOException {
    Path file = Files.writeString(dir.resolve("preds.jsonl"),
        "{\"prediction\": \"a cat\", \"references\": []}\n"
            + "{\"prediction\": \"the dog\", \"references\": [\"the dog\", \"a dog\"]}\n"
            + "{\"prediction\": \"x\", \"references\": null}\n");
    LoadOptions options = LoadOptions.builder().cacheDir(dir.resolve("cache")).build();
    try (Dataset d = Dataset.load(DataFormat.JSON, options, file.toString())) {
      assertEquals(Features.of("prediction", ColumnType.STRING, "references", ColumnType.STRING_LIST), d.features());
      List<Object> refs = d.column("references");
      assertArrayEquals(new String[0], (String[]) refs.get(0));
      assertArrayEquals(new String[] {"the dog", "a dog"}, (String[]) refs.get(1));
      assertEquals(null, refs.get(2));
      Path saved = dir.resolve("saved");
      d.saveToDisk(saved);
      try (Dataset back = Dataset.loadFromDisk(saved)) {
        assertEquals(d.features(), back.features());
        assertArrayEquals(new String[] {"the dog", "a dog"}, (String[]) back.column("references").get(1));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        DatasetWriters.writeJsonLines(back, out, 2);
        assertEquals("{\"prediction\":\"a cat\",\"references\":[]}\n"
            + "{\"prediction\":\"the dog\",\"references\":[\"the dog\",\"a dog\"]}\n",
            out.toString(StandardCharsets.UTF_8));
      }
    }
  }

  @Test
  void anArrayMixingStringsAndNumbersIsNamed() throws IOException {
    Path file = Files.writeString(dir.resolve("bad.jsonl"), "{\"references\": [\"a\", 1]}\n");
    LoadOptions options = LoadOptions.builder().cacheDir(dir.resolve("cache")).build();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Dataset.load(DataFormat.JSON, options, file.toString()));
    assertTrue(e.getMessage().contains("line 1: key 'references': an array of strings holds a number"),
        e.getMessage());
  }

  @Test
  void inMemoryStringArraysAndSparkArraysOfStringsMapToIt() {
    try (Dataset d = Dataset.fromColumns(Map.of("refs", List.of(new String[] {"a"}, List.of("b", "c"))),
        dir.resolve("cache"))) {
      assertEquals(ColumnType.STRING_LIST, d.features().type("refs"));
      assertArrayEquals(new String[] {"b", "c"}, (String[]) d.column("refs").get(1));
    }
    StructField field = new StructField("refs", DataTypes.createArrayType(DataTypes.StringType), true,
        Metadata.empty());
    assertEquals(ColumnType.STRING_LIST, SparkArrow.columnType(field));
    assertEquals(DataTypes.createArrayType(DataTypes.StringType, false), SparkArrow.sparkType(ColumnType.STRING_LIST));
    assertEquals(ColumnType.STRING_LIST, ColumnType.fromArrowField(ColumnType.STRING_LIST.toArrowField("refs")));
  }
}
