package io.sparkformers.datasets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.IntBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatasetTest {
  @TempDir Path cache;

  private static final Features ALL_TYPES = Features.of("i", ColumnType.INT32, "l", ColumnType.INT64,
      "f", ColumnType.FLOAT32, "d", ColumnType.FLOAT64, "b", ColumnType.BOOL, "s", ColumnType.STRING,
      "ids", ColumnType.INT32_LIST, "vec", ColumnType.FLOAT32_LIST);

  private static Map<String, Object> row(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put((String) kv[i], kv[i + 1]);
    }
    return m;
  }

  private Dataset numbers(int n) {
    List<Map<String, Object>> rows = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      rows.add(row("x", (long) i, "label", i % 3));
    }
    return Dataset.fromRows(Features.of("x", ColumnType.INT64, "label", ColumnType.INT32), rows, cache);
  }

  private static List<Object> xs(Dataset d) {
    return d.column("x");
  }

  private static List<Object> longs(long... v) {
    List<Object> out = new ArrayList<>();
    for (long x : v) {
      out.add(x);
    }
    return out;
  }

  @Test
  void everyColumnTypeRoundTripsThroughArrowWithNulls() {
    try (Dataset d = Dataset.fromRows(ALL_TYPES, List.of(
        row("i", 1, "l", 1L << 40, "f", 1.5f, "d", -2.25, "b", true, "s", "héllo", "ids", new int[] {3, 4, 5},
            "vec", new float[] {0.5f}),
        row("i", null, "l", null, "f", null, "d", null, "b", null, "s", null, "ids", null, "vec", null),
        row("i", -7, "l", 0L, "f", 0f, "d", 1e300, "b", false, "s", "", "ids", new int[0], "vec", List.of(1.0f, 2f))),
        cache)) {
      assertEquals(3, d.numRows());
      assertEquals(ALL_TYPES, d.features());
      Map<String, Object> r0 = d.row(0);
      assertEquals(1, r0.get("i"));
      assertEquals(1L << 40, r0.get("l"));
      assertEquals(1.5f, r0.get("f"));
      assertEquals(-2.25, r0.get("d"));
      assertEquals(true, r0.get("b"));
      assertEquals("héllo", r0.get("s"));
      assertArrayEquals(new int[] {3, 4, 5}, (int[]) r0.get("ids"));
      assertArrayEquals(new float[] {0.5f}, (float[]) r0.get("vec"));
      d.row(1).values().forEach(v -> assertNull(v));
      assertArrayEquals(new int[0], (int[]) d.get(2, "ids"));
      assertArrayEquals(new float[] {1f, 2f}, (float[]) d.get(2, "vec"));
      assertEquals(1e300, d.get(2, "d"));
      assertEquals(java.util.Arrays.asList("héllo", null, ""), d.column("s"));
    }
  }

  @Test
  void recordBatchesAreZeroCopyViewsOfTheMappedFile() throws IOException {
    List<Map<String, Object>> rows = new ArrayList<>();
    for (int i = 0; i < 2500; i++) {
      rows.add(row("ids", new int[] {i, i + 1}));
    }
    try (Dataset d = Dataset.fromRows(Features.of("ids", ColumnType.INT32_LIST), rows, cache)) {
      List<RecordBatch> batches = d.recordBatches();
      assertEquals(3, batches.size()); // 1000 rows per batch, as Hugging Face writes
      assertEquals(List.of(1000, 1000, 500), batches.stream().map(RecordBatch::numRows).toList());
      long sum = 0;
      for (RecordBatch b : batches) {
        IntBuffer values = b.int32ListValues("ids");
        IntBuffer offsets = b.int32ListOffsets("ids");
        assertEquals(2 * b.numRows(), values.remaining());
        assertEquals(b.numRows() + 1, offsets.remaining());
        assertEquals(2 * b.numRows(), offsets.get(b.numRows()));
        for (int k = 0; k < values.limit(); k++) {
          sum += values.get(k);
        }
      }
      assertEquals(2L * (2499L * 2500 / 2) + 2500, sum);
      assertEquals(1, d.files().size());
      assertTrue(Files.size(d.files().get(0)) > 20_000);
      try (Dataset shuffled = d.shuffle(1)) {
        assertThrows(IllegalStateException.class, shuffled::recordBatches);
      }
    }
  }

  @Test
  void shuffleUsesNumpysPermutationForTheSeed() {
    try (Dataset d = numbers(10); Dataset s = d.shuffle(42); Dataset again = d.shuffle(42)) {
      // np.random.default_rng(42).permutation(10)
      assertEquals(longs(5, 6, 0, 7, 3, 2, 4, 9, 1, 8), xs(s));
      assertEquals(s.fingerprint(), again.fingerprint());
      assertNotEquals(d.fingerprint(), s.fingerprint());
      assertTrue(s.hasIndicesMapping());
      try (Dataset flat = s.flattenIndices()) {
        assertFalse(flat.hasIndicesMapping());
        assertEquals(xs(s), xs(flat));
      }
    }
  }

  @Test
  void trainTestSplitMatchesHuggingFaceForTheSeed() {
    try (Dataset d = numbers(10); DatasetDict split = d.trainTestSplit(TrainTestSplit.testFraction(0.2, 42))) {
      assertEquals(List.of("train", "test"), List.copyOf(split.splitNames()));
      assertEquals(longs(5, 6), xs(split.get("test")));
      assertEquals(longs(0, 7, 3, 2, 4, 9, 1, 8), xs(split.get("train")));
    }
    try (Dataset d = numbers(10);
        DatasetDict split = d.trainTestSplit(TrainTestSplit.builder().testCount(3).shuffle(false).build())) {
      assertEquals(longs(0, 1, 2, 3, 4, 5, 6), xs(split.get("train")));
      assertEquals(longs(7, 8, 9), xs(split.get("test")));
    }
    try (Dataset d = numbers(10)) {
      // test 25% by default: ceil(2.5) = 3
      try (DatasetDict split = d.trainTestSplit(TrainTestSplit.builder().seed(1).build())) {
        assertEquals(3, split.get("test").numRows());
        assertEquals(7, split.get("train").numRows());
      }
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> d.trainTestSplit(TrainTestSplit.builder().testSize(1.5).build()));
      assertEquals("test_size=1.5 should be in (0, 1) as a fraction", e.getMessage());
    }
  }

  @Test
  void stratifiedSplitMatchesHuggingFaceForTheSeed() {
    List<String> y = List.of("b", "a", "c", "a", "b", "a", "c", "b", "a", "b", "a", "c");
    List<Map<String, Object>> rows = new ArrayList<>();
    for (int i = 0; i < y.size(); i++) {
      rows.add(row("x", (long) i, "y", y.get(i)));
    }
    try (Dataset d = Dataset.fromRows(Features.of("x", ColumnType.INT64, "y", ColumnType.STRING), rows, cache);
        DatasetDict split = d.trainTestSplit(TrainTestSplit.builder().testCount(4).seed(11)
            .stratifyByColumn("y").build())) {
      assertEquals(longs(5, 9, 6, 3, 10, 4, 11, 0), xs(split.get("train")));
      assertEquals(longs(2, 1, 7, 8), xs(split.get("test")));
    }
    List<Map<String, Object>> rows2 = new ArrayList<>();
    for (int i = 0; i < 14; i++) {
      rows2.add(row("x", (long) i, "label", i % 3));
    }
    try (Dataset d = Dataset.fromRows(Features.of("x", ColumnType.INT64, "label", ColumnType.INT32), rows2, cache);
        DatasetDict split = d.trainTestSplit(TrainTestSplit.builder().testSize(0.3).seed(0)
            .stratifyByColumn("label").build())) {
      assertEquals(longs(9, 12, 13, 2, 6, 5, 4, 7, 8), xs(split.get("train")));
      assertEquals(longs(0, 11, 1, 3, 10), xs(split.get("test")));
    }
  }

  @Test
  void shardAndSplitByNodeAreContiguousLikeHuggingFace() {
    try (Dataset d = numbers(10)) {
      List<List<Object>> shards = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        try (Dataset s = d.shard(3, i)) {
          shards.add(xs(s));
        }
      }
      assertEquals(List.of(longs(0, 1, 2, 3), longs(4, 5, 6), longs(7, 8, 9)), shards);
      try (Dataset rank1 = d.splitByNode(1, 4)) {
        assertEquals(longs(3, 4, 5), xs(rank1));
      }
      try (Dataset rank3 = d.splitByNode(3, 4)) {
        assertEquals(longs(8, 9), xs(rank3));
      }
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> d.shard(2, 2));
      assertEquals("index must be in [0, numShards); got index 2 of 2", e.getMessage());
    }
  }

  @Test
  void selectTakeSkipFilterSortCompose() {
    try (Dataset d = numbers(10);
        Dataset sel = d.select(9, 0, 9);
        Dataset taken = d.take(3);
        Dataset skipped = d.skip(8);
        Dataset odd = d.filter(r -> (Long) r.get("x") % 2 == 1);
        Dataset oddTail = odd.skip(3);
        Dataset byLabel = d.sort("label", false);
        Dataset desc = d.sort("x", true)) {
      assertEquals(longs(9, 0, 9), xs(sel));
      assertEquals(longs(0, 1, 2), xs(taken));
      assertEquals(longs(8, 9), xs(skipped));
      assertEquals(longs(1, 3, 5, 7, 9), xs(odd));
      assertEquals(longs(7, 9), xs(oddTail));
      assertEquals(longs(0, 3, 6, 9, 1, 4, 7, 2, 5, 8), xs(byLabel)); // stable
      assertEquals(longs(9, 8, 7, 6, 5, 4, 3, 2, 1, 0), xs(desc));
      IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class, () -> d.select(3, 10));
      assertEquals("Index 10 (position 1) is out of range: the dataset has 10 rows", e.getMessage());
    }
  }

  @Test
  void sortPutsNullsLast() {
    try (Dataset d = Dataset.fromRows(Features.of("s", ColumnType.STRING),
        List.of(row("s", "b"), row("s", null), row("s", "a")), cache);
        Dataset up = d.sort("s", false); Dataset down = d.sort("s", true)) {
      assertEquals(java.util.Arrays.asList("a", "b", null), up.column("s"));
      assertEquals(java.util.Arrays.asList("b", "a", null), down.column("s"));
    }
  }

  @Test
  void failingFilterNamesTheRow() {
    try (Dataset d = numbers(5)) {
      TransformException e = assertThrows(TransformException.class, () -> d.filter(r -> {
        if ((Long) r.get("x") == 3) {
          throw new IllegalStateException("boom");
        }
        return true;
      }));
      assertEquals(3, e.row());
      assertEquals("filter failed on row 3: java.lang.IllegalStateException: boom", e.getMessage());
    }
  }

  @Test
  void columnsAreRenamedRemovedSelectedAndCast() {
    try (Dataset d = numbers(3);
        Dataset renamed = d.renameColumn("x", "id");
        Dataset removed = renamed.removeColumns("label");
        Dataset reordered = d.selectColumns("label", "x");
        Dataset cast = d.castColumn("label", ColumnType.STRING);
        Dataset castBack = cast.castColumn("label", ColumnType.FLOAT64)) {
      assertEquals(List.of("id", "label"), renamed.columnNames());
      assertEquals(longs(0, 1, 2), renamed.column("id"));
      assertEquals(List.of("id"), removed.columnNames());
      assertEquals(Map.of("id", 2L), removed.row(2));
      assertEquals(List.of("label", "x"), reordered.columnNames());
      assertEquals(List.of(0, 1, 2), reordered.column("label"));
      assertEquals(List.of("0", "1", "2"), cast.column("label"));
      assertEquals(ColumnType.STRING, cast.features().type("label"));
      assertEquals(List.of(0.0, 1.0, 2.0), castBack.column("label"));
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> d.renameColumn("nope", "y"));
      assertEquals("No column 'nope'; columns are [x, label]", e.getMessage());
    }
  }

  @Test
  void castThatWouldTruncateNamesTheRow() {
    try (Dataset d = Dataset.fromRows(Features.of("v", ColumnType.FLOAT64),
        List.of(row("v", 1.0), row("v", 2.5)), cache)) {
      TransformException e = assertThrows(TransformException.class, () -> d.castColumn("v", ColumnType.INT64));
      assertEquals(1, e.row());
      assertEquals("Cannot cast column 'v' to INT64 at row 1: Float value 2.5 was truncated converting to an"
          + " integer", e.getMessage());
    }
  }

  @Test
  void concatenateKeepsOrderAndChecksColumns() {
    try (Dataset a = numbers(3); Dataset b = numbers(2); Dataset bShuffled = b.select(1, 0);
        Dataset both = Dataset.concatenate(List.of(a, bShuffled))) {
      assertEquals(longs(0, 1, 2, 1, 0), xs(both));
      try (Dataset other = a.renameColumn("x", "y")) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> Dataset.concatenate(List.of(a, other)));
        assertEquals("Dataset 1 has columns {y: INT64, label: INT32}, dataset 0 has {x: INT64, label: INT32}:"
            + " they must match to concatenate", e.getMessage());
      }
    }
  }

  @Test
  void derivedDatasetsOutliveTheirParent() {
    Dataset d = numbers(4);
    Dataset s = d.select(3, 1);
    d.close();
    assertEquals(longs(3, 1), xs(s));
    s.close();
    assertThrows(IllegalStateException.class, s::numRows);
  }

  @Test
  void mapAddsAndReplacesColumnsAndIsCachedWhenNamed() throws IOException {
    MapOptions named = MapOptions.builder().function("square", "1").removeColumns("label").build();
    try (Dataset memory = numbers(4)) {
      memory.saveToDisk(cache.resolve("saved"));
    }
    try (Dataset saved = Dataset.loadFromDisk(cache.resolve("saved"));
        Dataset d = saved.withCacheDir(cache);
        Dataset m = d.map(r -> Map.of("sq", (Long) r.get("x") * (Long) r.get("x"), "x", "n" + r.get("x")), named);
        Dataset again = d.map(r -> Map.of("boom", 1), named)) {
      assertEquals(Features.of("x", ColumnType.STRING, "sq", ColumnType.INT64), m.features());
      assertEquals(List.of("n0", "n1", "n2", "n3"), m.column("x"));
      assertEquals(longs(0, 1, 4, 9), m.column("sq"));
      // The same name and version on the same input: the cached result, the function is not run.
      assertEquals(m.fingerprint(), again.fingerprint());
      assertEquals(m.files(), again.files());
      assertEquals(longs(0, 1, 4, 9), again.column("sq"));
      assertEquals(cache.resolve(m.fingerprint()), m.files().get(0).getParent());
    }
  }

  @Test
  void transformsOfAnInMemoryDatasetAreNotCachedButKeepTheirFingerprint() throws IOException {
    MapOptions named = MapOptions.builder().function("twice", "1").build();
    String fingerprint;
    try (Dataset d = numbers(3); Dataset m = d.map(r -> Map.of("y", 2 * (Long) r.get("x")), named);
        Dataset again = d.map(r -> Map.of("y", 2 * (Long) r.get("x")), named)) {
      fingerprint = m.fingerprint();
      assertEquals(fingerprint, again.fingerprint());
      assertNotEquals(m.files(), again.files()); // computed twice, each in its own temporary folder
      assertTrue(m.files().get(0).getParent().getFileName().toString().startsWith("tmp-"));
    }
    try (Stream<Path> left = Files.list(cache)) {
      assertEquals(List.of(), left.toList());
    }
  }

  @Test
  void unnamedMapRunsUncachedInAFolderDeletedOnClose() throws IOException {
    Path folder;
    try (Dataset d = numbers(2); Dataset m = d.map(r -> Map.of("y", 1.5), MapOptions.defaults())) {
      assertEquals(List.of(1.5, 1.5), m.column("y"));
      folder = m.files().get(0).getParent();
      assertTrue(folder.getFileName().toString().startsWith("tmp-"));
      assertTrue(Files.exists(folder));
    }
    assertFalse(Files.exists(folder));
    try (Stream<Path> left = Files.list(cache)) {
      assertEquals(List.of(), left.toList());
    }
  }

  @Test
  void batchedMapMayChangeTheNumberOfRows() {
    MapOptions opts = MapOptions.builder().batchSize(3).removeColumns("x", "label").build();
    try (Dataset d = numbers(5);
        Dataset m = d.mapBatched(batch -> {
          List<Object> doubled = new ArrayList<>();
          for (Object x : batch.get("x")) {
            doubled.add(x);
            doubled.add(x);
          }
          return Map.of("y", doubled);
        }, opts)) {
      assertEquals(longs(0, 0, 1, 1, 2, 2, 3, 3, 4, 4), m.column("y"));
    }
    try (Dataset d = numbers(5)) {
      TransformException e = assertThrows(TransformException.class, () -> d.mapBatched(
          batch -> Map.of("y", List.of(1)), MapOptions.builder().batchSize(2).build()));
      assertEquals("map function returned 1 rows for the 2 rows 0..1 while input column 'x' is kept: remove the"
          + " input columns (removeColumns) when changing the number of rows", e.getMessage());
    }
  }

  @Test
  void failingMapNamesTheRowAndLeavesNothingInTheCache() throws IOException {
    try (Dataset d = numbers(5)) {
      TransformException e = assertThrows(TransformException.class, () -> d.map(r -> {
        if ((Long) r.get("x") == 2) {
          throw new ArithmeticException("bad");
        }
        return Map.of();
      }, MapOptions.builder().function("f", "1").build()));
      assertEquals(2, e.row());
      assertEquals("map function failed on row 2: java.lang.ArithmeticException: bad", e.getMessage());
    }
    try (Stream<Path> left = Files.list(cache)) {
      assertEquals(List.of(), left.filter(p -> !p.getFileName().toString().startsWith("tmp-")).toList());
    }
  }

  @Test
  void saveToDiskAndLoadFromDiskRoundTrip(@TempDir Path out) {
    Path folder = out.resolve("saved");
    try (Dataset d = numbers(4); Dataset s = d.shuffle(42)) {
      s.saveToDisk(folder);
      try (Dataset back = Dataset.loadFromDisk(folder)) {
        assertEquals(xs(s), xs(back));
        assertEquals(s.fingerprint(), back.fingerprint());
        assertEquals(d.features(), back.features());
      }
    }
  }

  @Test
  void fromColumnsInfersTypes() {
    Map<String, List<?>> cols = new LinkedHashMap<>();
    cols.put("a", List.of(1, 2));
    cols.put("b", java.util.Arrays.asList(null, "x"));
    cols.put("c", List.of(new int[] {1}, new int[] {2, 3}));
    try (Dataset d = Dataset.fromColumns(cols, cache)) {
      assertEquals(Features.of("a", ColumnType.INT32, "b", ColumnType.STRING, "c", ColumnType.INT32_LIST),
          d.features());
      Map<String, Object> expected = new HashMap<>();
      expected.put("a", 2);
      expected.put("b", "x");
      assertEquals(expected, Map.of("a", d.get(1, "a"), "b", d.get(1, "b")));
    }
  }

  @Test
  void iterYieldsColumnBatches() {
    try (Dataset d = numbers(5)) {
      List<Map<String, List<Object>>> batches = new ArrayList<>();
      d.iter(2).forEach(batches::add);
      assertEquals(3, batches.size());
      assertEquals(longs(4), batches.get(2).get("x"));
      assertEquals(List.of(0, 1), batches.get(0).get("label"));
    }
  }

  @Test
  void aValueOfTheWrongTypeNamesTheColumn() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Dataset.fromRows(
        Features.of("n", ColumnType.INT32), List.of(row("n", "seven")), cache));
    assertEquals("Column 'n' is INT32 but got String seven", e.getMessage());
  }
}
