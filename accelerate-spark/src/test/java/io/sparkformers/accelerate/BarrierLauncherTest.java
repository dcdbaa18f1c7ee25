package io.sparkformers.accelerate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The launcher on a real Spark barrier stage, local[2]: both ranks are threads of this JVM. */
class BarrierLauncherTest {
  private static JavaSparkContext sc;

  @BeforeAll
  static void startSpark() {
    // One attempt: the failure test ends at the first failure instead of Spark's 4 retries of the stage.
    sc = new JavaSparkContext(LocalSpark.conf(2, "barrier-launcher-test")
        .set("spark.stage.maxConsecutiveAttempts", "1"));
  }

  @AfterAll
  static void stopSpark() {
    sc.stop();
  }

  @Test
  void twoRanksAllReduceAndRankZerosResultReachesTheDriver() {
    String result = BarrierLauncher.run(sc, 2, ctx -> {
      ByteBuffer b = ByteBuffer.allocateDirect(12).order(ByteOrder.nativeOrder());
      b.putFloat(0, ctx.rank() + 1).putFloat(4, 10 * (ctx.rank() + 1)).putFloat(8, -ctx.rank());
      ctx.processGroup().allReduce(b, ElementType.FLOAT32, ReduceOp.AVG);
      ByteBuffer w = ByteBuffer.allocateDirect(8).order(ByteOrder.nativeOrder()).putLong(0, 42 + ctx.rank());
      ctx.processGroup().broadcast(w, ElementType.INT64, 1);
      return ctx.rank() + "/" + ctx.worldSize() + " " + b.getFloat(0) + "," + b.getFloat(4) + "," + b.getFloat(8)
          + " " + w.getLong(0) + " " + ctx.device() + " threads=" + ctx.intraOpThreads() + " attempt="
          + ctx.attempt();
    });
    assertEquals("0/2 1.5,15.0,-0.5 43 " + Device.cpu() + " threads=1 attempt=0", result);
  }

  @Test
  void overAnRddEachRankIteratesItsOwnPartition() {
    List<Integer> rows = new ArrayList<>();
    for (int i = 1; i <= 10; i++) {
      rows.add(i);
    }
    long[] sums = BarrierLauncher.run(sc.parallelize(rows, 2), ctx -> {
      long sum = 0;
      for (Iterator<Integer> it = ctx.partition(); it.hasNext(); ) {
        sum += it.next();
      }
      ByteBuffer mine = ByteBuffer.allocateDirect(8).order(ByteOrder.nativeOrder()).putLong(0, sum);
      ByteBuffer all = ByteBuffer.allocateDirect(16).order(ByteOrder.nativeOrder());
      ctx.processGroup().allGather(mine, all, ElementType.INT64);
      return new long[] {all.getLong(0), all.getLong(8)};
    });
    assertEquals("[15, 40]", Arrays.toString(sums));
  }

  @Test
  void aNullResultComesBack() {
    assertNull(BarrierLauncher.run(sc, 2, ctx -> {
      ctx.processGroup().barrier();
      return null;
    }));
  }

  @Test
  void anExceptionOnOneRankReachesTheDriverWithTheRankAndStackTrace() {
    ProcessGroupOptions options = ProcessGroupOptions.builder().timeout(Duration.ofSeconds(20)).build();
    long start = System.nanoTime();
    LaunchFailedException e = assertThrows(LaunchFailedException.class, () -> BarrierLauncher.run(sc, 2, options,
        ctx -> {
          if (ctx.rank() == 1) {
            throw new IllegalStateException("bad batch on rank one");
          }
          ctx.processGroup().allReduce(ByteBuffer.allocateDirect(4), ElementType.FLOAT32, ReduceOp.SUM);
          return "unreachable";
        }));
    double seconds = (System.nanoTime() - start) / 1e9;
    assertTrue(seconds < 15, "took " + seconds + " s: rank 0 waited for its timeout");
    // One line naming the rank where the trouble began and quoting its error, whichever task Spark reports
    // first (rank 0 fails quoting rank 1's abort); Spark's report with the stack traces is the cause.
    assertEquals("the barrier stage of 2 ranks failed on rank 1:"
        + " java.lang.IllegalStateException: bad batch on rank one", e.getMessage());
    assertEquals(1, e.failedRank());
    assertTrue(e.retryable());
    assertTrue(e.getCause().getMessage().contains("at io.sparkformers.accelerate.BarrierLauncherTest"),
        "no stack trace in: " + e.getCause().getMessage());
    // The Spark context is still usable after a failed launch.
    assertEquals("0/2", BarrierLauncher.run(sc, 2, ctx -> ctx.rank() + "/" + ctx.worldSize()));
  }

  @Test
  void anUnknownBackendFailsOnTheDriverWithTheKnownOnes() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BarrierLauncher.run(sc, 2,
        ProcessGroupOptions.builder().backend("ncc1").build(), ctx -> 1));
    assertEquals("unknown process group backend 'ncc1'; available: [tcp, nccl]", e.getMessage());
  }
}
