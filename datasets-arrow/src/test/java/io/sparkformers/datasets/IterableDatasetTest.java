package io.sparkformers.datasets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.sparkformers.datasets.internal.NumpyRandom;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IterableDatasetTest {
  @TempDir Path dir;
  @TempDir Path cache;

  private static List<Object> column(IterableDataset d, String name) {
    List<Object> out = new ArrayList<>();
    for (Map<String, Object> row : d.toList()) {
      out.add(row.get(name));
    }
    return out;
  }

  private IterableDataset threeFiles() throws IOException {
    Files.writeString(dir.resolve("a.jsonl"), "{\"t\": \"a0\"}\n{\"t\": \"a1\"}\n");
    Files.writeString(dir.resolve("b.jsonl"), "{\"t\": \"b0\"}\n");
    Files.writeString(dir.resolve("c.jsonl"), "{\"t\": \"c0\"}\n{\"t\": \"c1\"}\n");
    return IterableDataset.fromFiles(DataFormat.JSON, LoadOptions.defaults(), dir + "/*.jsonl");
  }

  private IterableDataset numbers(int n) {
    List<Map<String, Object>> rows = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      rows.add(Map.of("x", (long) i));
    }
    Dataset d = Dataset.fromRows(Features.of("x", ColumnType.INT64), rows, cache);
    return IterableDataset.fromDataset(d, 1);
  }

  @Test
  void numpyBoundedIntegersMatch() {
    NumpyRandom r = new NumpyRandom(0);
    long[] got = new long[6];
    for (int i = 0; i < 6; i++) {
      got[i] = r.integers(0, 10);
    }
    // np.random.default_rng(0).integers(0, 10, size=6)
    assertEquals(List.of(8L, 6L, 5L, 2L, 3L, 0L), java.util.Arrays.stream(got).boxed().toList());
    assertEquals(7424841456459477716L, new NumpyRandom(5).bounded(Long.MAX_VALUE));
  }

  @Test
  void filesStreamInOrderWithTakeSkipMapFilter() throws IOException {
    IterableDataset d = threeFiles();
    assertEquals(3, d.numShards());
    assertEquals(Features.of("t", ColumnType.STRING), d.features());
    assertEquals(List.of("a0", "a1", "b0", "c0", "c1"), column(d, "t"));
    assertEquals(List.of("a1", "b0"), column(d.skip(1).take(2), "t"));
    assertEquals(List.of("A0!", "A1!"), column(d.filter(r -> ((String) r.get("t")).startsWith("a"))
        .map(r -> Map.of("t", ((String) r.get("t")).toUpperCase() + "!")), "t"));
  }

  @Test
  void shuffleShufflesShardsThenABufferAsHuggingFaceDoes() throws IOException {
    // numpy: default_rng(7) shuffles [a, b, c] to [a, c, b]; a buffer of 2 then gives this order.
    assertEquals(List.of("a1", "c0", "c1", "b0", "a0"), column(threeFiles().shuffle(7, 2), "t"));
    IterableDataset d = numbers(10).shuffle(42, 4);
    assertEquals(List.of(0L, 3L, 2L, 1L, 7L, 5L, 8L, 4L, 9L, 6L), column(d, "x"));
    assertEquals(List.of(2L, 1L, 0L, 4L, 5L, 8L, 6L, 7L, 3L, 9L), column(d.setEpoch(1), "x"));
  }

  @Test
  void splitByNodeTakesWholeShardsOrEveryNthExample() throws IOException {
    IterableDataset d = threeFiles();
    // 3 shards over 2 ranks: every rank reads all and keeps every 2nd example.
    assertEquals(List.of("a0", "b0", "c1"), column(d.splitByNode(0, 2), "t"));
    assertEquals(List.of("a1", "c0"), column(d.splitByNode(1, 2), "t"));
    // 3 shards over 3 ranks: one whole shard each.
    assertEquals(List.of("b0"), column(d.splitByNode(1, 3), "t"));
  }

  @Test
  void interleaveRoundRobinAndWithProbabilities() {
    IterableDataset a = numbers(3);
    IterableDataset b = numbers(4).map(r -> Map.of("x", 10 + (Long) r.get("x")));
    assertEquals(List.of(0L, 10L, 1L, 11L, 2L), column(IterableDataset.interleave(List.of(a, b), null, 0,
        StoppingStrategy.FIRST_EXHAUSTED), "x"));
    assertEquals(List.of(0L, 10L, 1L, 11L, 2L, 12L, 0L, 13L), column(IterableDataset.interleave(List.of(a, b), null,
        0, StoppingStrategy.ALL_EXHAUSTED), "x"));
    // numpy: default_rng(3).choice(2, p=[0.7, 0.3]) draws 0, 0, 1, 0, 0, ...
    assertEquals(List.of(0L, 1L, 10L, 2L), column(IterableDataset.interleave(List.of(a, b), new double[] {0.7, 0.3},
        3, StoppingStrategy.FIRST_EXHAUSTED), "x"));
  }

  @Test
  void aBadLineStopsTheStreamNamingTheFileAndLine() throws IOException {
    Path f = dir.resolve("bad.jsonl");
    Files.writeString(f, "{\"n\": 1}\n{\"n\": \"x\"}\n");
    IterableDataset d = IterableDataset.fromFiles(DataFormat.JSON,
        LoadOptions.builder().features(Features.of("n", ColumnType.INT64)).build(), f.toString());
    try (IterableDataset.StreamIterator it = d.iterator()) {
      assertEquals(Map.of("n", 1L), it.next());
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, it::hasNext);
      assertEquals("file:" + f + ": line 2: key 'n': \"x\" is not a valid INT64", e.getMessage());
    }
  }
}
