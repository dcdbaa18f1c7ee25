package io.sparkformers.datasets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.sparkformers.datasets.EpochSampler.LastBatch;
import io.sparkformers.datasets.EpochSampler.Order;
import io.sparkformers.datasets.internal.NumpyRandom;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class EpochSamplerTest {

  private static EpochSampler.Builder rows(long n) {
    return EpochSampler.builder(n).batchSize(3);
  }

  @Test
  void oneRankKeepsDropsOrCompletesTheShortLastBatch() {
    List<long[]> keep = rows(7).build().batches(0);
    assertEquals(3, keep.size());
    assertArrayEquals(new long[] {6}, keep.get(2));
    assertEquals(2, rows(7).lastBatch(LastBatch.DROP).build().batches(0).size());
    List<long[]> complete = rows(7).lastBatch(LastBatch.COMPLETE).build().batches(0);
    assertArrayEquals(new long[] {6, 0, 1}, complete.get(2), "completed from the start of the order");
  }

  @Test
  void ranksAreDealtWholeBatchesRoundRobinAndRepeatTheFirstToStayEven() {
    // 7 rows in batches of 3 → 3 batches (the last completed): rank 0 takes 0 and 2, rank 1 takes 1 and then 0 again.
    EpochSampler.Builder b = rows(7).lastBatch(LastBatch.COMPLETE);
    List<long[]> r0 = b.rank(0, 2).build().batches(0);
    List<long[]> r1 = b.rank(1, 2).build().batches(0);
    assertEquals(2, r0.size());
    assertEquals(2, r1.size());
    assertArrayEquals(new long[] {0, 1, 2}, r0.get(0));
    assertArrayEquals(new long[] {6, 0, 1}, r0.get(1));
    assertArrayEquals(new long[] {3, 4, 5}, r1.get(0));
    assertArrayEquals(new long[] {0, 1, 2}, r1.get(1));
    // drop_last on ranks drops the rounds not every rank can fill: 2 full batches, 2 ranks → 1 each.
    assertEquals(1, rows(7).lastBatch(LastBatch.DROP).rank(1, 2).build().batchesPerEpoch());
  }

  @Test
  void theOrderDependsOnSeedAndEpochOnlyNeverOnTheRank() {
    EpochSampler a = rows(50).order(Order.SPLITTABLE_RANDOM_SHUFFLE, 42).rank(0, 2).build();
    EpochSampler b = rows(50).order(Order.SPLITTABLE_RANDOM_SHUFFLE, 42).rank(1, 2).build();
    assertArrayEquals(a.order(3), b.order(3));
    assertNotEquals(Arrays.toString(a.order(3)), Arrays.toString(a.order(4)));
    long[] sorted = a.order(3).clone();
    Arrays.sort(sorted);
    assertArrayEquals(rows(50).build().order(0), sorted, "a permutation of every row");
    assertArrayEquals(new NumpyRandom(7 + 2).permutation(50),
        rows(50).order(Order.NUMPY_PERMUTATION, 7).build().order(2), "datasets' shuffle(seed + epoch)");
  }

  @Test
  void aFixedBatchCountWrapsOverTheRows() {
    EpochSampler s = rows(4).batchesPerEpoch(3).build();
    List<long[]> batches = s.batches(0);
    assertEquals(3, batches.size());
    assertArrayEquals(new long[] {3, 0, 1}, batches.get(1));
    assertArrayEquals(new long[] {2, 3, 0}, batches.get(2));
  }

  @Test
  void badSettingsAreRefusedWithTheirValue() {
    assertEquals("batchSize must be positive, got 0",
        assertThrows(IllegalArgumentException.class, () -> EpochSampler.builder(5).batchSize(0).build())
            .getMessage());
    assertEquals("rank 2 is not one of world size 2",
        assertThrows(IllegalArgumentException.class, () -> EpochSampler.builder(5).rank(2, 2).build())
            .getMessage());
    assertThrows(IllegalArgumentException.class, () -> EpochSampler.builder(-1).build());
    assertEquals(0, EpochSampler.builder(0).build().batches(0).size());
  }
}
