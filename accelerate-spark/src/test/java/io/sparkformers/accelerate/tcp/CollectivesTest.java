package io.sparkformers.accelerate.tcp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sparkformers.accelerate.ElementType;
import io.sparkformers.accelerate.ProcessGroup;
import io.sparkformers.accelerate.ProcessGroupOptions;
import io.sparkformers.accelerate.ReduceOp;
import io.sparkformers.accelerate.internal.Half;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every collective of the TCP backend against a plain reference computed here, on 2, 3 and 4 ranks, with
 * awkward sizes (0, 1, 7 elements, sizes not divisible by the world size), every operation and element type.
 * The ring threshold is 64 bytes so that every all-reduce algorithm runs: small counts take recursive
 * doubling, larger ones the TCP ring or, with shared memory on, the shared-memory path.
 */
class CollectivesTest {
  private static final int[] COUNTS = {0, 1, 7, 13, 1001, 70_001};
  private static final Map<Integer, Ranks> GROUPS = new HashMap<>();

  static Ranks ranks(int n) {
    return ranks(n, true);
  }

  /** Groups on 127.0.0.1: with shared memory on, large all-reduces take it; off, they take the TCP ring. */
  static synchronized Ranks ranks(int n, boolean sharedMemory) {
    Ranks r = GROUPS.computeIfAbsent(n * 10 + (sharedMemory ? 1 : 0), k -> Ranks.open(n,
        ProcessGroupOptions.builder().ringThresholdBytes(64).sharedMemory(sharedMemory)
            .timeout(Duration.ofSeconds(60)).build()));
    for (ProcessGroup pg : r.groups) {
      assertEquals(sharedMemory, ((TcpProcessGroup) pg).usesSharedMemory());
    }
    return r;
  }

  @AfterAll
  static void closeGroups() {
    GROUPS.values().forEach(Ranks::close);
  }

  /** Integer values small enough to be exact in every type, summed over 4 ranks: element i of rank r. */
  static long value(int rank, int i) {
    return ((i * 7L + rank * 13L) % 23) - 11;
  }

  static ByteBuffer fill(ElementType type, int count, int rank) {
    ByteBuffer b = ByteBuffer.allocateDirect(count * type.bytes()).order(ByteOrder.nativeOrder());
    for (int i = 0; i < count; i++) {
      put(b, type, i, value(rank, i));
    }
    return b;
  }

  static void put(ByteBuffer b, ElementType type, int i, double v) {
    switch (type) {
      case FLOAT32 -> b.putFloat(i * 4, (float) v);
      case FLOAT16 -> b.putShort(i * 2, Half.fromFloat((float) v));
      case INT32 -> b.putInt(i * 4, (int) v);
      case INT64 -> b.putLong(i * 8, (long) v);
      case FLOAT64 -> b.putDouble(i * 8, v);
    }
  }

  static double get(ByteBuffer b, ElementType type, int i) {
    return switch (type) {
      case FLOAT32 -> b.getFloat(i * 4);
      case FLOAT16 -> Half.toFloat(b.getShort(i * 2));
      case INT32 -> b.getInt(i * 4);
      case INT64 -> b.getLong(i * 8);
      case FLOAT64 -> b.getDouble(i * 8);
    };
  }

  /** The reference: a plain loop over ranks, then AVG's division as the element type does it. */
  static double expected(ElementType type, ReduceOp op, int n, int i) {
    long acc = value(0, i);
    for (int r = 1; r < n; r++) {
      long v = value(r, i);
      acc = switch (op) {
        case SUM, AVG -> acc + v;
        case MAX -> Math.max(acc, v);
        case MIN -> Math.min(acc, v);
      };
    }
    if (op != ReduceOp.AVG) {
      return acc;
    }
    return switch (type) {
      case FLOAT32 -> (float) acc / (float) n;
      case FLOAT16 -> Half.toFloat(Half.fromFloat((float) acc / n));
      case INT32, INT64 -> acc / n;
      case FLOAT64 -> (double) acc / n;
    };
  }

  @ParameterizedTest
  @CsvSource({"2, true", "3, true", "4, true", "2, false", "3, false", "4, false"})
  void allReduceEveryTypeOpAndSize(int n, boolean sharedMemory) throws Exception {
    Ranks ranks = ranks(n, sharedMemory);
    for (ElementType type : ElementType.values()) {
      for (ReduceOp op : ReduceOp.values()) {
        for (int count : COUNTS) {
          List<ByteBuffer> out = ranks.run(pg -> {
            ByteBuffer b = fill(type, count, pg.rank());
            pg.allReduce(b, type, op);
            return b;
          });
          for (int r = 0; r < n; r++) {
            for (int i = 0; i < count; i++) {
              assertEquals(expected(type, op, n, i), get(out.get(r), type, i),
                  type + " " + op + " count " + count + " rank " + r + " element " + i);
            }
          }
        }
      }
    }
  }

  @ParameterizedTest
  @CsvSource({"2, true", "3, true", "4, true", "2, false", "3, false", "4, false"})
  void allReduceOfRandomFloatsGivesEveryRankTheSameBits(int n, boolean sharedMemory) throws Exception {
    Ranks ranks = ranks(n, sharedMemory);
    // 2 500 003 floats span three chunks of the shared-memory path.
    for (int count : new int[] {5, 33_333, 2_500_003}) {
      List<float[]> out = ranks.run(pg -> {
        Random random = new Random(pg.rank());
        ByteBuffer b = ByteBuffer.allocateDirect(count * 4).order(ByteOrder.nativeOrder());
        for (int i = 0; i < count; i++) {
          b.putFloat(i * 4, random.nextFloat() - 0.5f);
        }
        pg.allReduce(b, ElementType.FLOAT32, ReduceOp.AVG);
        float[] f = new float[count];
        b.asFloatBuffer().get(f);
        return f;
      });
      float[] reference = new float[count];
      List<Random> randoms = new ArrayList<>();
      for (int r = 0; r < n; r++) {
        randoms.add(new Random(r));
      }
      for (int i = 0; i < count; i++) {
        double sum = 0;
        for (Random random : randoms) {
          sum += random.nextFloat() - 0.5f;
        }
        reference[i] = (float) (sum / n);
      }
      for (int r = 0; r < n; r++) {
        assertArrayEquals(out.get(0), out.get(r), "rank " + r + " differs from rank 0");
        // Summation order differs from the double-precision reference by rounding only.
        assertArrayEquals(reference, out.get(r), 1e-6f);
      }
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {2, 3, 4})
  void broadcastFromEveryRoot(int n) throws Exception {
    Ranks ranks = ranks(n);
    for (int root = 0; root < n; root++) {
      for (int count : COUNTS) {
        int theRoot = root;
        List<ByteBuffer> out = ranks.run(pg -> {
          ByteBuffer b = fill(ElementType.INT32, count, pg.rank());
          pg.broadcast(b, ElementType.INT32, theRoot);
          return b;
        });
        ByteBuffer want = fill(ElementType.INT32, count, root);
        for (int r = 0; r < n; r++) {
          assertEquals(want, out.get(r), "root " + root + " count " + count + " rank " + r);
        }
      }
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {2, 3, 4})
  void allGatherPutsEveryRanksBlockInRankOrder(int n) throws Exception {
    Ranks ranks = ranks(n);
    for (ElementType type : new ElementType[] {ElementType.FLOAT16, ElementType.INT64}) {
      for (int count : COUNTS) {
        List<ByteBuffer> out = ranks.run(pg -> {
          ByteBuffer in = fill(type, count, pg.rank());
          ByteBuffer all = ByteBuffer.allocateDirect(n * count * type.bytes());
          pg.allGather(in, all, type);
          return all;
        });
        ByteBuffer want = ByteBuffer.allocateDirect(n * count * type.bytes());
        for (int r = 0; r < n; r++) {
          want.put(fill(type, count, r));
        }
        want.flip();
        for (int r = 0; r < n; r++) {
          assertEquals(want, out.get(r), type + " count " + count + " rank " + r);
        }
      }
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {2, 3, 4})
  void reduceScatterLeavesEachRankItsBlockAndKeepsTheInput(int n) throws Exception {
    Ranks ranks = ranks(n);
    for (ElementType type : new ElementType[] {ElementType.FLOAT32, ElementType.INT64, ElementType.FLOAT16}) {
      for (ReduceOp op : ReduceOp.values()) {
        for (int block : new int[] {0, 1, 7, 1001}) {
          List<ByteBuffer[]> out = ranks.run(pg -> {
            ByteBuffer in = fill(type, block * n, pg.rank());
            ByteBuffer mine = ByteBuffer.allocateDirect(block * type.bytes()).order(ByteOrder.nativeOrder());
            pg.reduceScatter(in, mine, type, op);
            return new ByteBuffer[] {in, mine};
          });
          for (int r = 0; r < n; r++) {
            assertEquals(fill(type, block * n, r), out.get(r)[0], "input of rank " + r + " changed");
            for (int i = 0; i < block; i++) {
              assertEquals(expected(type, op, n, r * block + i), get(out.get(r)[1], type, i),
                  type + " " + op + " block " + block + " rank " + r + " element " + i);
            }
          }
        }
      }
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {2, 3, 4})
  void sendAndRecvAroundTheRingAndBarrier(int n) throws Exception {
    Ranks ranks = ranks(n);
    List<ByteBuffer> out = ranks.run(pg -> {
      int r = pg.rank();
      ByteBuffer mine = fill(ElementType.INT64, 7 + r, r);
      ByteBuffer fromLeft = ByteBuffer.allocateDirect(8 * (7 + (r + n - 1) % n));
      CompletableFuture<Void> sent = pg.sendAsync(mine, ElementType.INT64, (r + 1) % n);
      pg.recv(fromLeft, ElementType.INT64, (r + n - 1) % n);
      sent.join();
      pg.barrier();
      return fromLeft;
    });
    for (int r = 0; r < n; r++) {
      int left = (r + n - 1) % n;
      assertEquals(fill(ElementType.INT64, 7 + left, left), out.get(r), "rank " + r);
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {2, 3, 4})
  void asyncCollectivesRunInIssueOrderBeforeLaterBlockingOnes(int n) throws Exception {
    Ranks ranks = ranks(n);
    List<List<ByteBuffer>> out = ranks.run(pg -> {
      List<ByteBuffer> bufs = new ArrayList<>();
      List<CompletableFuture<Void>> fs = new ArrayList<>();
      for (int k = 0; k < 3; k++) {
        ByteBuffer b = fill(ElementType.FLOAT32, 1000 * (k + 1), pg.rank());
        bufs.add(b);
        fs.add(pg.allReduceAsync(b, ElementType.FLOAT32, ReduceOp.SUM));
      }
      ByteBuffer last = fill(ElementType.FLOAT32, 9, pg.rank());
      pg.broadcast(last, ElementType.FLOAT32, n - 1);
      bufs.add(last);
      CompletableFuture.allOf(fs.toArray(new CompletableFuture[0])).join();
      return bufs;
    });
    for (int r = 0; r < n; r++) {
      for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 1000 * (k + 1); i++) {
          assertEquals(expected(ElementType.FLOAT32, ReduceOp.SUM, n, i), get(out.get(r).get(k),
              ElementType.FLOAT32, i));
        }
      }
      assertEquals(fill(ElementType.FLOAT32, 9, n - 1), out.get(r).get(3));
    }
  }
}
