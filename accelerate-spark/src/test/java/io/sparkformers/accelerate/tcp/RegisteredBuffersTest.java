package io.sparkformers.accelerate.tcp;

import static io.sparkformers.accelerate.tcp.CollectivesTest.expected;
import static io.sparkformers.accelerate.tcp.CollectivesTest.get;
import static io.sparkformers.accelerate.tcp.CollectivesTest.put;
import static io.sparkformers.accelerate.tcp.CollectivesTest.value;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkformers.accelerate.CollectiveException;
import io.sparkformers.accelerate.ElementType;
import io.sparkformers.accelerate.ProcessGroup;
import io.sparkformers.accelerate.ProcessGroupOptions;
import io.sparkformers.accelerate.ReduceOp;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Buffers from {@link ProcessGroup#allocate}: with shared memory on they live in the ranks' /dev/shm arenas and
 * an all-reduce on them reduces straight from the peers' buffers; they must give the same results as the
 * staged path for every type, operation and awkward size, also when only some ranks pass one.
 */
class RegisteredBuffersTest {
  /** 600 001 elements span several claimed windows of the in-place path for every element type. */
  private static final int[] COUNTS = {0, 1, 7, 13, 1001, 70_001, 600_001};
  /** Elements before each reduced range, to check that position is honoured and nothing outside is written. */
  private static final int LEAD = 3;
  private static final double SENTINEL = 99;

  private static ProcessGroupOptions options(boolean sharedMemory) {
    return ProcessGroupOptions.builder().ringThresholdBytes(64).sharedMemory(sharedMemory)
        .timeout(Duration.ofSeconds(60)).build();
  }

  private static TcpProcessGroup tcp(ProcessGroup pg) {
    return (TcpProcessGroup) pg;
  }

  @ParameterizedTest
  @ValueSource(ints = {2, 3, 4})
  void registeredAllReduceEveryTypeOpAndSize(int n) throws Exception {
    try (Ranks ranks = Ranks.open(n, options(true))) {
      // One buffer per rank, reused with moved position and limit, as gradient buckets are.
      List<ByteBuffer> bufs = ranks.run(pg -> pg.allocate((COUNTS[COUNTS.length - 1] + 2 * LEAD) * 8));
      for (int r = 0; r < n; r++) {
        assertTrue(ranks.groups.get(r).isRegistered(bufs.get(r)));
        assertEquals(ByteOrder.nativeOrder(), bufs.get(r).order());
        assertTrue(bufs.get(r).isDirect());
      }
      long inPlaceBefore = tcp(ranks.groups.get(0)).inPlaceAllReduces();
      int inPlace = 0;
      for (ElementType type : ElementType.values()) {
        for (ReduceOp op : ReduceOp.values()) {
          for (int count : COUNTS) {
            int es = type.bytes();
            ranks.run(pg -> {
              ByteBuffer b = bufs.get(pg.rank());
              b.clear();
              put(b, type, LEAD - 1, SENTINEL);
              put(b, type, LEAD + count, SENTINEL);
              for (int i = 0; i < count; i++) {
                put(b, type, LEAD + i, value(pg.rank(), i));
              }
              b.position(LEAD * es).limit((LEAD + count) * es);
              pg.allReduce(b, type, op);
              assertEquals(LEAD * es, b.position());
              assertEquals((LEAD + count) * es, b.limit());
              return null;
            });
            if (count * es >= SharedMemoryRing.IN_PLACE_MIN_BYTES) {
              inPlace++;
            }
            for (int r = 0; r < n; r++) {
              ByteBuffer b = bufs.get(r).clear();
              for (int i = 0; i < count; i++) {
                int rank = r;
                int at = i;
                assertEquals(expected(type, op, n, i), get(b, type, LEAD + i),
                    () -> type + " " + op + " count " + count + " rank " + rank + " element " + at);
              }
              assertEquals(SENTINEL, get(b, type, LEAD - 1), type + " " + op + " count " + count + " before");
              assertEquals(SENTINEL, get(b, type, LEAD + count), type + " " + op + " count " + count + " after");
            }
          }
        }
      }
      // With shared memory every all-reduce from 16 KiB up took the in-place path (smaller ones: staged).
      assertEquals(inPlace, tcp(ranks.groups.get(0)).inPlaceAllReduces() - inPlaceBefore);
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {2, 3, 4})
  void registeredRandomFloatsGiveEveryRankTheSameBitsAsTheStagedPath(int n) throws Exception {
    int count = 2_500_003; // 39 windows of the registered path, three slot chunks of the staged one
    try (Ranks ranks = Ranks.open(n, options(true))) {
      List<float[][]> out = ranks.run(pg -> {
        float[][] results = new float[2][];
        for (int k = 0; k < 2; k++) {
          ByteBuffer b = k == 0 ? pg.allocate(count * 4)
              : ByteBuffer.allocateDirect(count * 4).order(ByteOrder.nativeOrder());
          assertEquals(k == 0, pg.isRegistered(b));
          Random random = new Random(pg.rank());
          for (int i = 0; i < count; i++) {
            b.putFloat(i * 4, (float) random.nextGaussian());
          }
          pg.allReduce(b, ElementType.FLOAT32, ReduceOp.AVG);
          results[k] = new float[count];
          b.asFloatBuffer().get(results[k]);
        }
        return results;
      });
      assertEquals(1, tcp(ranks.groups.get(0)).inPlaceAllReduces());
      Random[] randoms = new Random[n];
      for (int r = 0; r < n; r++) {
        randoms[r] = new Random(r);
      }
      float[][] inputs = new float[n][count];
      for (int r = 0; r < n; r++) {
        for (int i = 0; i < count; i++) {
          inputs[r][i] = (float) randoms[r].nextGaussian();
        }
      }
      for (int r = 0; r < n; r++) {
        // Identical bits on every rank, on both paths.
        assertArrayEquals(out.get(0)[0], out.get(r)[0], "registered, rank " + r);
        assertArrayEquals(out.get(0)[1], out.get(r)[1], "staged, rank " + r);
      }
      // The registered path sums in rank order wherever an element is reduced: a plain loop's bits.
      for (int i = 0; i < count; i++) {
        float sum = inputs[0][i];
        for (int r = 1; r < n; r++) {
          sum += inputs[r][i];
        }
        if (sum / n != out.get(0)[0][i]) {
          assertEquals(sum / n, out.get(0)[0][i], "element " + i);
        }
      }
      if (n == 2) {
        assertArrayEquals(out.get(0)[0], out.get(0)[1], "two ranks: both paths add the same pair");
      }
    }
  }

  @Test
  void ranksMixingRegisteredAndPlainBuffersAllTakeTheStagedPath() throws Exception {
    int count = 300_007;
    try (Ranks ranks = Ranks.open(3, options(true))) {
      List<ByteBuffer> out = ranks.run(pg -> {
        ByteBuffer b = pg.rank() == 1 ? pg.allocate(count * 4)
            : ByteBuffer.allocateDirect(count * 4).order(ByteOrder.nativeOrder());
        for (int i = 0; i < count; i++) {
          put(b, ElementType.FLOAT32, i, value(pg.rank(), i));
        }
        pg.allReduce(b, ElementType.FLOAT32, ReduceOp.MAX);
        return b;
      });
      assertEquals(0, tcp(ranks.groups.get(0)).inPlaceAllReduces());
      for (int r = 0; r < 3; r++) {
        for (int i = 0; i < count; i++) {
          assertEquals(expected(ElementType.FLOAT32, ReduceOp.MAX, 3, i), get(out.get(r), ElementType.FLOAT32, i));
        }
      }
    }
  }

  @Test
  void registeredAllReduceOfOtherSizesFailsLoudlyOnEveryRank() throws Exception {
    try (Ranks ranks = Ranks.open(2, options(true).toBuilder().timeout(Duration.ofSeconds(5)).build())) {
      List<Object> outcomes = ranks.outcomes(pg -> {
        ByteBuffer b = pg.allocate(1 << 20);
        b.limit(pg.rank() == 0 ? 1 << 19 : 1 << 20);
        pg.allReduce(b, ElementType.FLOAT32, ReduceOp.SUM);
        return "finished";
      });
      CollectiveException e0 = assertInstanceOf(CollectiveException.class, outcomes.get(0));
      assertEquals("rank 0: collectives issued out of order: rank 1 runs collective #0 ALL_REDUCE of 1048576 bytes, but rank 0"
          + " runs collective #0 ALL_REDUCE of 524288 bytes (every rank must issue the same collectives, with the"
          + " same sizes, in the same order)", e0.getMessage());
      assertInstanceOf(CollectiveException.class, outcomes.get(1));
    }
  }

  @Test
  void withoutSharedMemoryOrBeyondTheArenaAllocateGivesPlainDirectBuffersThatWork() throws Exception {
    try (Ranks ranks = Ranks.open(2, options(false))) {
      List<ByteBuffer> out = ranks.run(pg -> {
        ByteBuffer b = pg.allocate(4000);
        assertFalse(pg.isRegistered(b));
        assertTrue(b.isDirect());
        assertEquals(ByteOrder.nativeOrder(), b.order());
        assertEquals(4000, b.remaining());
        for (int i = 0; i < 1000; i++) {
          assertEquals(0f, b.getFloat(i * 4));
          put(b, ElementType.FLOAT32, i, value(pg.rank(), i));
        }
        pg.allReduce(b, ElementType.FLOAT32, ReduceOp.SUM);
        return b;
      });
      for (int i = 0; i < 1000; i++) {
        assertEquals(expected(ElementType.FLOAT32, ReduceOp.SUM, 2, i), get(out.get(1), ElementType.FLOAT32, i));
      }
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ranks.groups.get(0).allocate(-1));
      assertEquals("cannot allocate -1 bytes", e.getMessage());
    }
    // A 64 KiB arena: the first small buffer fits, a 1 MiB one falls back to a plain buffer.
    try (Ranks ranks = Ranks.open(2, options(true).toBuilder().sharedMemoryArenaBytes(1 << 16).build())) {
      ProcessGroup pg = ranks.groups.get(0);
      ByteBuffer small = pg.allocate(1024);
      ByteBuffer big = pg.allocate(1 << 20);
      assertTrue(pg.isRegistered(small));
      assertFalse(pg.isRegistered(big));
      assertEquals(1 << 20, big.capacity());
      assertFalse(pg.isRegistered(small.duplicate()), "only the buffer allocate returned is registered");
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {2, 3})
  void broadcastAndAllGatherThroughSharedMemoryWithRegisteredAndPlainBuffers(int n) throws Exception {
    // 2 500 003 floats: three 4 MiB slot chunks on the staged path.
    for (int count : new int[] {0, 1, 7, 70_001, 2_500_003}) {
      try (Ranks ranks = Ranks.open(n, options(true))) {
        List<List<ByteBuffer>> out = ranks.run(pg -> {
          List<ByteBuffer> results = new java.util.ArrayList<>();
          for (boolean registered : new boolean[] {true, false}) {
            for (int root = 0; root < n; root++) {
              ByteBuffer b = registered ? pg.allocate(count * 4)
                  : ByteBuffer.allocateDirect(count * 4).order(ByteOrder.nativeOrder());
              for (int i = 0; i < count; i++) {
                b.putFloat(i * 4, value(pg.rank(), i));
              }
              pg.broadcast(b, ElementType.FLOAT32, root);
              results.add(b);
            }
            ByteBuffer in = registered ? pg.allocate(count * 4)
                : ByteBuffer.allocateDirect(count * 4).order(ByteOrder.nativeOrder());
            for (int i = 0; i < count; i++) {
              in.putFloat(i * 4, value(pg.rank(), i));
            }
            ByteBuffer gathered = ByteBuffer.allocateDirect(n * count * 4).order(ByteOrder.nativeOrder());
            pg.allGather(in, gathered, ElementType.FLOAT32);
            results.add(gathered);
          }
          return results;
        });
        for (int r = 0; r < n; r++) {
          for (int k = 0; k < 2; k++) {
            List<ByteBuffer> mine = out.get(r).subList(k * (n + 1), (k + 1) * (n + 1));
            for (int root = 0; root < n; root++) {
              for (int i = 0; i < count; i++) {
                if (mine.get(root).getFloat(i * 4) != value(root, i)) {
                  assertEquals(value(root, i), mine.get(root).getFloat(i * 4), "broadcast from " + root + " to "
                      + r + (k == 0 ? " registered" : " plain") + " count " + count + " element " + i);
                }
              }
            }
            for (int q = 0; q < n; q++) {
              for (int i = 0; i < count; i++) {
                if (mine.get(n).getFloat((q * count + i) * 4) != value(q, i)) {
                  assertEquals(value(q, i), mine.get(n).getFloat((q * count + i) * 4), "all-gather on rank " + r
                      + (k == 0 ? " registered" : " plain") + " count " + count + " block " + q + " element " + i);
                }
              }
            }
          }
        }
      }
    }
  }

  @Test
  void sharedMemoryCollectivesOfAnotherKindOrRootFailLoudly() throws Exception {
    try (Ranks ranks = Ranks.open(2, options(true).toBuilder().timeout(Duration.ofSeconds(5)).build())) {
      List<Object> outcomes = ranks.outcomes(pg -> {
        ByteBuffer b = pg.allocate(4096);
        pg.broadcast(b, ElementType.FLOAT32, pg.rank());
        return "finished";
      });
      CollectiveException e0 = assertInstanceOf(CollectiveException.class, outcomes.get(0));
      assertEquals("rank 0: collectives issued out of order: rank 1 runs collective #0 BROADCAST from rank 1 of 4096"
          + " bytes, but rank 0 runs collective #0 BROADCAST from rank 0 of 4096 bytes (every rank must issue the"
          + " same collectives, with the same sizes, in the same order)", e0.getMessage());
    }
    try (Ranks ranks = Ranks.open(2, options(true).toBuilder().timeout(Duration.ofSeconds(5)).build())) {
      List<Object> outcomes = ranks.outcomes(pg -> {
        ByteBuffer b = ByteBuffer.allocateDirect(4096).order(ByteOrder.nativeOrder());
        if (pg.rank() == 0) {
          pg.allReduce(b, ElementType.FLOAT32, ReduceOp.SUM);
        } else {
          pg.broadcast(b, ElementType.FLOAT32, 0);
        }
        return "finished";
      });
      CollectiveException e0 = assertInstanceOf(CollectiveException.class, outcomes.get(0));
      assertEquals("rank 0: collectives issued out of order: rank 1 runs collective #0 BROADCAST from rank 0 of 4096"
          + " bytes, but rank 0 runs collective #0 ALL_REDUCE of 4096 bytes (every rank must issue the same"
          + " collectives, with the same sizes, in the same order)", e0.getMessage());
      assertInstanceOf(CollectiveException.class, outcomes.get(1));
    }
  }
}
