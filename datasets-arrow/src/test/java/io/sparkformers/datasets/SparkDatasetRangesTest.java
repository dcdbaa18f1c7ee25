package io.sparkformers.datasets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkformers.datasets.internal.InputFiles;
import io.sparkformers.datasets.internal.InputFiles.InputFile;
import io.sparkformers.datasets.internal.LineRanges;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import scala.Tuple2;

/**
 * Large JSON-lines and text files read as byte ranges by several tasks give the rows, order, indices, features
 * and per-file counts of the one-task load and of the in-process loader, for range sizes cutting anywhere.
 */
class SparkDatasetRangesTest {
  static SparkSession spark;
  @TempDir Path dir;
  @TempDir Path cache;

  @BeforeAll
  static void start() {
    spark = SparkDatasetTest.kryoSession("spark-dataset-ranges-test");
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  private LoadOptions ranges(long bytes) {
    return LoadOptions.builder().cacheDir(cache.resolve("spark")).spark(spark).rangeBytes(bytes).build();
  }

  /** The rows by index as lists of plain values, checking the indices are 0..n-1 in partition order. */
  private static List<List<Object>> rows(SparkDataset d) {
    List<Tuple2<Long, Row>> indexed = d.indexed().collect();
    assertEquals(d.numRows(), indexed.size());
    List<List<Object>> out = new ArrayList<>();
    for (int i = 0; i < indexed.size(); i++) {
      assertEquals(i, (long) indexed.get(i)._1(), "index of row " + i);
      Row r = indexed.get(i)._2();
      List<Object> values = new ArrayList<>();
      for (int c = 0; c < r.size(); c++) {
        Object v = r.get(c);
        values.add(v instanceof scala.collection.Seq<?> s
            ? new ArrayList<>(scala.collection.JavaConverters.seqAsJavaList(s)) : v);
      }
      out.add(values);
    }
    return out;
  }

  private static List<List<Object>> rows(Dataset d) {
    List<List<Object>> out = new ArrayList<>();
    for (int i = 0; i < d.numRows(); i++) {
      List<Object> values = new ArrayList<>();
      for (String name : d.features().names()) {
        Object v = d.get(i, name);
        if (v != null && v.getClass().isArray()) {
          List<Object> items = new ArrayList<>();
          for (int k = 0; k < java.lang.reflect.Array.getLength(v); k++) {
            items.add(java.lang.reflect.Array.get(v, k));
          }
          v = items;
        }
        values.add(v);
      }
      out.add(values);
    }
    return out;
  }

  /**
   * For each range size, the ranged load equals the one-task load (a range larger than every file) and the
   * in-process loader; returns the largest number of partitions seen.
   */
  private int assertRangesLoadAlike(DataFormat format, List<Long> sizes, String... locations) {
    List<List<Object>> expected;
    Features features;
    try (Dataset inProcess = DatasetLoader.load(format, LoadOptions.builder().cacheDir(cache.resolve("local"))
        .build(), List.of(locations))) {
      expected = rows(inProcess);
      features = inProcess.features();
    }
    long[] perFile;
    try (SparkDataset one = SparkDataset.load(format, ranges(Long.MAX_VALUE), locations)) {
      assertEquals(features, one.features());
      assertEquals(expected, rows(one));
      perFile = one.rowsPerFile();
      assertEquals(expected.size(), java.util.Arrays.stream(perFile).sum());
      assertEquals(perFile.length, one.indexed().getNumPartitions(), "one task per file");
    }
    int most = 0;
    for (long size : sizes) {
      try (SparkDataset d = SparkDataset.load(format, ranges(size), locations)) {
        assertEquals(features, d.features(), "range size " + size);
        assertEquals(expected, rows(d), "range size " + size);
        assertArrayEquals(perFile, d.rowsPerFile(), "range size " + size);
        most = Math.max(most, d.indexed().getNumPartitions());
      }
    }
    return most;
  }

  /** JSON lines with CRLF endings, blank lines, a byte order mark and 2-, 3- and 4-byte characters. */
  private static final String JSONL = "\uFEFF{\"t\": \"é\", \"n\": 1, \"ids\": [1, 2]}\r\n"
      + "{\"t\": \"日本語\", \"n\": 2.5, \"ids\": []}\n"
      + "\n"
      + "{\"t\": \"😀x😀\", \"n\": null}\r\n"
      + "   \r\n"
      + "{\"t\": \"ü\", \"n\": 4, \"ids\": [7]}\n"
      + "{\"t\": \"last, no newline\", \"n\": 5}";

  @Test
  void jsonLinesCutAnywhereLoadAsOneTask() throws IOException {
    Files.writeString(dir.resolve("a.jsonl"), JSONL, StandardCharsets.UTF_8);
    Files.writeString(dir.resolve("b.jsonl"), "{\"t\": \"b\", \"n\": 6, \"ids\": [8, 9]}\n\n", StandardCharsets.UTF_8);
    Files.writeString(dir.resolve("c.jsonl"), "", StandardCharsets.UTF_8);
    long size = Files.size(dir.resolve("a.jsonl"));
    int parts = assertRangesLoadAlike(DataFormat.JSON, List.of(1L, 2L, 3L, 5L, 7L, 16L, 40L, size - 1, size,
        size + 100), dir + "/*.jsonl");
    assertEquals(size + Files.size(dir.resolve("b.jsonl")) + 1, parts, "1-byte ranges: one task per byte");
  }

  @Test
  void rangesStartingExactlyAtLineStartsOrInsideCharacters() throws IOException {
    // 10 lines of 16 bytes each ("€" is 3 bytes): 16-byte ranges start at line starts, 17- and 8-byte ranges
    // start inside lines and some inside the 3-byte character.
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < 10; i++) {
      s.append("{\"t\": \"€").append(i).append("ab\"}\n");
    }
    Files.writeString(dir.resolve("even.jsonl"), s.toString(), StandardCharsets.UTF_8);
    assertEquals(160, Files.size(dir.resolve("even.jsonl")));
    assertRangesLoadAlike(DataFormat.JSON, List.of(16L, 32L, 17L, 8L, 9L, 4L), dir.resolve("even.jsonl").toString());
  }

  @Test
  void textFilesCutAnywhereLoadAsOneTask() throws IOException {
    Files.writeString(dir.resolve("a.txt"), "\uFEFFfirst line\r\nsecond é line\n\n\r\n日本語 😀\nlast\n\n",
        StandardCharsets.UTF_8);
    Files.writeString(dir.resolve("b.txt"), "third\nno newline at the end", StandardCharsets.UTF_8);
    long size = Files.size(dir.resolve("a.txt"));
    assertRangesLoadAlike(DataFormat.TEXT, List.of(1L, 2L, 3L, 6L, 11L, size, size + 1), dir + "/*.txt");
  }

  @Test
  void countsTheLinesStartingInEachRange() throws IOException {
    Path file = dir.resolve("c.txt");
    Files.writeString(file, "ab\ncd\r\n\nef"); // lines start at 0, 3, 7, 8
    InputFile f = new InputFile(file.toUri().toString(), Files.size(file), 0);
    InputFiles inputs = new InputFiles(Map.of());
    assertArrayEquals(new long[] {0, 1}, LineRanges.count(inputs, f, 0, 3));
    assertArrayEquals(new long[] {3, 1}, LineRanges.count(inputs, f, 3, 4));
    assertArrayEquals(new long[] {7, 2}, LineRanges.count(inputs, f, 4, 9));
    assertArrayEquals(new long[] {10, 0}, LineRanges.count(inputs, f, 9, 10));
    assertArrayEquals(new long[] {0, 4}, LineRanges.count(inputs, f, 0, 10));
    long total = 0;
    for (long[] r : LineRanges.cut(10, 3)) {
      total += LineRanges.count(inputs, f, r[0], r[1])[1];
    }
    assertEquals(4, total);
    assertThrows(IllegalArgumentException.class, () -> LineRanges.count(inputs, f, 5, 11));
  }

  @Test
  void aBadLineInTheThirdRangeNamesTheFileAndItsLine() throws IOException {
    // Lines of 11 bytes, ranges of 25: the third range [50, 75) holds lines 6 and 7 (starting at 55 and 66).
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < 12; i++) {
      s.append(i == 6 ? "{\"x\": 6,,}" : String.format("{\"x\": %3d}", i)).append('\n');
    }
    Path file = dir.resolve("bad.jsonl");
    Files.writeString(file, s.toString());
    assertEquals(132, Files.size(file));
    // Types are given, so that inference (one task per file) does not report the line first.
    LoadOptions options = LoadOptions.builder().spark(spark).rangeBytes(25)
        .features(Features.of("x", ColumnType.INT64)).build();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> SparkDataset.load(DataFormat.JSON, options, file.toString()));
    assertTrue(e.getMessage().startsWith(file.toUri().toString().replace("file:///", "file:/") + ": line 7, column"),
        e.getMessage());
    IllegalArgumentException whole = assertThrows(IllegalArgumentException.class, () -> DatasetLoader.load(
        DataFormat.JSON, LoadOptions.builder().cacheDir(cache.resolve("local"))
            .features(Features.of("x", ColumnType.INT64)).build(), List.of(file.toString())));
    assertEquals(whole.getMessage(), e.getMessage());
  }

  @Test
  void aBadUtf8ByteInALaterRangeKeepsItsLineAndOffset() throws IOException {
    Path file = dir.resolve("bytes.txt");
    byte[] head = "line one\nline two\nline three\n".getBytes(StandardCharsets.UTF_8);
    byte[] bytes = java.util.Arrays.copyOf(head, head.length + 4);
    bytes[head.length] = 'a';
    bytes[head.length + 1] = (byte) 0xC3; // a lead byte followed by no continuation byte
    bytes[head.length + 2] = 'b';
    bytes[head.length + 3] = '\n';
    Files.write(file, bytes);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> SparkDataset.load(DataFormat.TEXT, ranges(7), file.toString()));
    assertTrue(e.getMessage().contains(": line 4: byte 0xC3 at offset " + (head.length + 1) + " is not valid UTF-8"),
        e.getMessage());
  }

  @Test
  void compressedFilesAndJsonArraysStayOneTask() throws IOException {
    Path gz = dir.resolve("z.jsonl.gz");
    try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(gz))) {
      out.write(JSONL.getBytes(StandardCharsets.UTF_8));
    }
    Files.writeString(dir.resolve("y.json"), "[{\"t\": \"p\", \"n\": 1},\n {\"t\": \"q\", \"n\": 2}]\n");
    for (String location : List.of(gz.toString(), dir.resolve("y.json").toString())) {
      try (Dataset expected = DatasetLoader.load(DataFormat.JSON, LoadOptions.builder()
          .cacheDir(cache.resolve("local")).build(), List.of(location));
          SparkDataset d = SparkDataset.load(DataFormat.JSON, ranges(4), location)) {
        assertEquals(1, d.indexed().getNumPartitions(), location);
        assertEquals(expected.features(), d.features());
        assertEquals(rows(expected), rows(d), location);
        assertArrayEquals(new long[] {expected.numRows()}, d.rowsPerFile());
      }
    }
  }

  @Test
  void typesInferredPerRangeEqualTheWholeFilesTypes() throws IOException {
    // A column null until a later range, one first seen in a later range, ints widened to floats and an empty
    // list's type decided by strings two ranges later.
    Files.writeString(dir.resolve("t.jsonl"), "{\"a\": 1, \"c\": null, \"l\": []}\n"
        + "{\"a\": 2, \"b\": \"x\", \"l\": null}\n{\"a\": 2.5}\n{\"c\": [1.5], \"l\": [\"s\"]}\n{\"c\": [2]}\n");
    assertRangesLoadAlike(DataFormat.JSON, List.of(1L, 9L, 20L, 33L, 60L), dir.resolve("t.jsonl").toString());
  }

  /** The error of the in-process loader and of the ranged load of {@code file}, which must be equal. */
  private void assertSameError(Path file, long rangeBytes) {
    IllegalArgumentException whole = assertThrows(IllegalArgumentException.class, () -> DatasetLoader.load(
        DataFormat.JSON, LoadOptions.builder().cacheDir(cache.resolve("local")).build(), List.of(file.toString())));
    IllegalArgumentException ranged = assertThrows(IllegalArgumentException.class,
        () -> SparkDataset.load(DataFormat.JSON, ranges(rangeBytes), file.toString()));
    assertEquals(whole.getMessage(), ranged.getMessage());
  }

  @Test
  void inferenceErrorsInLaterRangesNameTheFilesFirstBadLine() throws IOException {
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < 20; i++) {
      s.append(i == 9 ? "{\"x\": \"nine\"}" : i == 15 ? "{\"x\": {\"y\": 1}}" : "{\"x\": " + i + ".5}").append('\n');
    }
    Path conflict = dir.resolve("conflict.jsonl");
    Files.writeString(conflict, s.toString());
    assertSameError(conflict, 30);
    assertSameError(conflict, 7);
    Path nested = dir.resolve("nested.jsonl");
    Files.writeString(nested, s.toString().replace("{\"x\": \"nine\"}", "{\"x\": 9.5}"));
    assertSameError(nested, 30);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> SparkDataset.load(DataFormat.JSON, ranges(30), nested.toString()));
    assertTrue(e.getMessage().contains(": line 16: key 'x' holds a JSON object"), e.getMessage());
  }

  @Test
  void anEmptyFolderLoadsNoRows() throws IOException {
    Path empty = Files.createDirectories(dir.resolve("empty"));
    try (SparkDataset d = SparkDataset.load(DataFormat.TEXT, ranges(1), empty.toString())) {
      assertEquals(0, d.numRows());
      assertEquals(Features.of("text", ColumnType.STRING), d.features());
      assertArrayEquals(new long[0], d.rowsPerFile());
      assertEquals(List.of(), rows(d));
    }
  }

  @Test
  void aRangeSizeBelowOneIsRefused() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> LoadOptions.builder().rangeBytes(0));
    assertEquals("rangeBytes must be at least 1, got 0", e.getMessage());
  }
}
