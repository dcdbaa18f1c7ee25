package io.sparkformers.datasets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataLoaderTest {
  @TempDir Path cache;
  static NDManager manager;

  @BeforeAll
  static void engine() {
    manager = NDManager.newBaseManager();
  }

  @AfterAll
  static void release() {
    manager.close();
  }

  private Dataset numbers(int n) {
    List<Map<String, Object>> rows = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      rows.add(Map.of("x", (long) i, "w", (float) i / 2, "ids", new int[] {i, i}, "text", "t" + i));
    }
    return Dataset.fromRows(Features.of("x", ColumnType.INT64, "w", ColumnType.FLOAT32, "ids",
        ColumnType.INT32_LIST, "text", ColumnType.STRING), rows, cache);
  }

  private static List<long[]> xsOfEpoch(DataLoader loader, int epoch, long skip) {
    List<long[]> out = new ArrayList<>();
    try (DataLoader.Epoch e = loader.epoch(epoch, skip)) {
      while (e.hasNext()) {
        try (Batch b = e.next()) {
          out.add(b.get("x").toLongArray());
        }
      }
    }
    return out;
  }

  @Test
  void batchesStackNumericColumnsOnTheDevice() {
    try (Dataset d = numbers(5);
        DataLoader loader = new DataLoader(d, manager, DataLoaderOptions.builder().batchSize(2).prefetch(0).build());
        DataLoader.Epoch e = loader.epoch(0, 0)) {
      assertEquals(3, loader.batchesPerEpoch());
      try (Batch b = e.next()) {
        assertEquals(Set.of("x", "w", "ids"), b.names()); // strings are left out
        assertEquals(DataType.INT64, b.get("x").getDataType());
        assertArrayEquals(new long[] {0, 1}, b.get("x").toLongArray());
        assertEquals(DataType.FLOAT32, b.get("w").getDataType());
        assertArrayEquals(new float[] {0f, 0.5f}, b.get("w").toFloatArray());
        assertEquals(new Shape(2, 2), b.get("ids").getShape());
        assertArrayEquals(new long[] {0, 0, 1, 1}, b.get("ids").toLongArray());
        assertEquals(manager.getDevice(), b.get("x").getDevice());
        assertEquals(0, b.index());
      }
      e.next().close();
      try (Batch last = e.next()) {
        assertEquals(1, last.size());
        assertArrayEquals(new long[] {4}, last.get("x").toLongArray());
      }
    }
  }

  @Test
  void dropLastShuffleSeedPerEpochAndResume() {
    try (Dataset d = numbers(5);
        DataLoader loader = new DataLoader(d, manager,
            DataLoaderOptions.builder().batchSize(2).dropLast(true).shuffle(true).seed(7).prefetch(2).build())) {
      // numpy: default_rng(7).permutation(5) = [2, 0, 4, 1, 3]; default_rng(8) = [3, 0, 1, 2, 4]
      List<long[]> epoch0 = xsOfEpoch(loader, 0, 0);
      assertEquals(2, epoch0.size());
      assertArrayEquals(new long[] {2, 0}, epoch0.get(0));
      assertArrayEquals(new long[] {4, 1}, epoch0.get(1));
      List<long[]> epoch1 = xsOfEpoch(loader, 1, 0);
      assertArrayEquals(new long[] {3, 0}, epoch1.get(0));
      // Resuming epoch 1 after its first batch gives exactly the rest.
      List<long[]> resumed = xsOfEpoch(loader, 1, 1);
      assertEquals(1, resumed.size());
      assertArrayEquals(new long[] {1, 2}, resumed.get(0));
      assertEquals(0, xsOfEpoch(loader, 1, 5).size());
    }
  }

  @Test
  void evenBatchesWrapAroundSoEveryRankTakesTheSameNumber() {
    try (Dataset d = numbers(7)) {
      long even = DataLoader.evenBatchesPerEpoch(7, 2, 3, false);
      assertEquals(2, even);
      List<List<long[]>> perRank = new ArrayList<>();
      for (int rank = 0; rank < 2; rank++) {
        try (Dataset shard = d.splitByNode(rank, 2);
            DataLoader loader = new DataLoader(shard, manager,
                DataLoaderOptions.builder().batchSize(3).batchesPerEpoch(even).build())) {
          perRank.add(xsOfEpoch(loader, 0, 0));
        }
      }
      assertArrayEquals(new long[] {0, 1, 2}, perRank.get(0).get(0));
      assertArrayEquals(new long[] {3, 0, 1}, perRank.get(0).get(1));
      assertArrayEquals(new long[] {4, 5, 6}, perRank.get(1).get(0));
      assertArrayEquals(new long[] {4, 5, 6}, perRank.get(1).get(1));
    }
  }

  @Test
  void aBatchThatCannotBeCollatedNamesTheBatchAndExample() {
    List<Map<String, Object>> rows = List.of(Map.of("ids", new int[] {1, 2}), Map.of("ids", new int[] {3}));
    try (Dataset d = Dataset.fromRows(Features.of("ids", ColumnType.INT32_LIST), rows, cache);
        DataLoader loader = new DataLoader(d, manager, DataLoaderOptions.builder().batchSize(2).build());
        DataLoader.Epoch e = loader.epoch(0, 0)) {
      IllegalStateException ex = assertThrows(IllegalStateException.class, e::next);
      assertEquals("Cannot collate batch 0 of epoch 0: Example 1 of the batch: column 'ids' has 1 values, example 0"
          + " has 2: use a padding collator for sequences of different lengths", ex.getMessage());
    }
  }

  private static List<Map<String, Object>> examples(int[]... ids) {
    List<Map<String, Object>> out = new ArrayList<>();
    for (int[] s : ids) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("input_ids", s);
      m.put("label", 1);
      out.add(m);
    }
    return out;
  }

  @Test
  void paddingCollatorPadsRightOrLeftToAMultiple() {
    try (NDManager m = manager.newSubManager()) {
      Map<String, NDArray> right = Collators.withPadding(Padding.builder(0).padToMultipleOf(4).build())
          .collate(examples(new int[] {5, 6, 7}, new int[] {8}), m);
      assertEquals(new Shape(2, 4), right.get("input_ids").getShape());
      assertArrayEquals(new long[] {5, 6, 7, 0, 8, 0, 0, 0}, right.get("input_ids").toLongArray());
      assertArrayEquals(new long[] {1, 1, 1, 0, 1, 0, 0, 0}, right.get("attention_mask").toLongArray());
      assertArrayEquals(new long[] {1, 1}, right.get("labels").toLongArray());
      Map<String, NDArray> left = Collators.withPadding(Padding.builder(9).side(Padding.Side.LEFT).build())
          .collate(examples(new int[] {5, 6}, new int[] {8}), m);
      assertArrayEquals(new long[] {5, 6, 9, 8}, left.get("input_ids").toLongArray());
      assertArrayEquals(new long[] {1, 1, 0, 1}, left.get("attention_mask").toLongArray());
    }
  }

  @Test
  void causalLanguageModelingLabelsArePaddedWithIgnoreIndex() {
    try (NDManager m = manager.newSubManager()) {
      Map<String, NDArray> out = Collators.forCausalLanguageModeling(Padding.right(0))
          .collate(examples(new int[] {5, 6, 7}, new int[] {8}), m);
      assertArrayEquals(new long[] {5, 6, 7, 8, -100, -100}, out.get("labels").toLongArray());
      assertArrayEquals(new long[] {5, 6, 7, 8, 0, 0}, out.get("input_ids").toLongArray());
    }
  }

  @Test
  void seq2seqPadsLabelsWithIgnoreIndex() {
    List<Map<String, Object>> ex = new ArrayList<>();
    ex.add(new LinkedHashMap<>(Map.of("input_ids", new int[] {1, 2}, "labels", new int[] {3})));
    ex.add(new LinkedHashMap<>(Map.of("input_ids", new int[] {4}, "labels", new int[] {5, 6, 7})));
    try (NDManager m = manager.newSubManager()) {
      Map<String, NDArray> out = Collators.forSeq2Seq(Padding.right(0)).collate(ex, m);
      assertArrayEquals(new long[] {1, 2, 4, 0}, out.get("input_ids").toLongArray());
      assertArrayEquals(new long[] {3, -100, -100, 5, 6, 7}, out.get("labels").toLongArray());
    }
  }

  @Test
  void maskedLanguageModelingMasksAboutFifteenPercentEightyTenTen() {
    int n = 20_000;
    int[] ids = new int[n];
    for (int i = 0; i < n; i++) {
      ids[i] = 10 + i % 50;
    }
    ids[0] = 1; // a special token: never masked
    try (NDManager m = manager.newSubManager()) {
      Map<String, NDArray> out = Collators.forMaskedLanguageModeling(Padding.right(0), 2, 100, Set.of(1), 0.15, 3)
          .collate(examples(ids), m);
      long[] in = out.get("input_ids").toLongArray();
      long[] labels = out.get("labels").toLongArray();
      int chosen = 0;
      int masked = 0;
      int kept = 0;
      for (int i = 0; i < n; i++) {
        if (labels[i] == -100) {
          assertEquals(ids[i], in[i]);
          continue;
        }
        chosen++;
        assertEquals(ids[i], labels[i]);
        masked += in[i] == 2 ? 1 : 0;
        kept += in[i] == ids[i] ? 1 : 0;
      }
      assertEquals(-100, labels[0]);
      assertEquals(0.15, chosen / (double) n, 0.01);
      assertEquals(0.8, masked / (double) chosen, 0.03);
      assertEquals(0.1 + 0.1 / 50, kept / (double) chosen, 0.03);
    }
  }
}
