package io.sparkformers.it.accelerate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkformers.accelerate.BarrierLauncher;
import io.sparkformers.accelerate.ElementType;
import io.sparkformers.accelerate.LaunchFailedException;
import io.sparkformers.accelerate.ProcessGroup;
import io.sparkformers.accelerate.ProcessGroupOptions;
import io.sparkformers.accelerate.ReduceOp;
import io.sparkformers.it.LocalClusterSpark;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The launcher on {@code local-cluster[2,1,1024]}: two ranks in two executor JVMs, connected by real sockets,
 * authenticated with the run's secret; a failing rank fails the stage, Spark retries it as a whole, and the
 * error reaches the driver naming the rank.
 */
class BarrierLaunchIT {
  private static JavaSparkContext sc;
  private static final ProcessGroupOptions OPTIONS =
      ProcessGroupOptions.builder().timeout(Duration.ofSeconds(30)).ringThresholdBytes(1024).build();

  @BeforeAll
  static void startCluster() {
    sc = LocalClusterSpark.start(LocalClusterSpark.conf(2, 1, 1024, "barrier-launch-it")
        .set("spark.stage.maxConsecutiveAttempts", "2"), 2, Duration.ofSeconds(90));
  }

  @AfterAll
  static void stopCluster() {
    sc.stop();
  }

  private static ByteBuffer longs(long... values) {
    ByteBuffer b = ByteBuffer.allocateDirect(values.length * 8).order(ByteOrder.nativeOrder());
    b.asLongBuffer().put(values);
    return b;
  }

  @Test
  void twoRanksInTwoExecutorJvmsAllReduceAndGather() {
    long driverPid = ProcessHandle.current().pid();
    String result = BarrierLauncher.run(sc, 2, OPTIONS, ctx -> {
      ProcessGroup pg = ctx.processGroup();
      // 100 003 floats: the ring path, segments of unequal size.
      int count = 100_003;
      ByteBuffer grads = ByteBuffer.allocateDirect(count * 4).order(ByteOrder.nativeOrder());
      for (int i = 0; i < count; i++) {
        grads.putFloat(i * 4, (ctx.rank() + 1) * (i % 10));
      }
      pg.allReduce(grads, ElementType.FLOAT32, ReduceOp.AVG);
      boolean ok = true;
      for (int i = 0; i < count; i++) {
        ok &= grads.getFloat(i * 4) == 1.5f * (i % 10);
      }
      ByteBuffer pids = ByteBuffer.allocateDirect(16).order(ByteOrder.nativeOrder());
      pg.allGather(longs(ProcessHandle.current().pid()), pids, ElementType.INT64);
      return ok + " " + pids.getLong(0) + " " + pids.getLong(8) + " " + ctx.worldSize() + " " + ctx.device();
    });
    String[] parts = result.split(" ");
    assertEquals("true", parts[0], result);
    long pid0 = Long.parseLong(parts[1]);
    long pid1 = Long.parseLong(parts[2]);
    assertNotEquals(pid0, pid1, "both ranks ran in one JVM: " + result);
    assertNotEquals(driverPid, pid0);
    assertNotEquals(driverPid, pid1);
    assertEquals("2 cpu()", parts[3] + " " + parts[4]);
  }

  @Test
  void aRankThatFailsOnTheFirstAttemptIsRetriedWithEveryOtherRank() {
    List<Long> attempts = BarrierLauncher.run(sc, 2, OPTIONS, ctx -> {
      if (ctx.attempt() == 0 && ctx.rank() == 1) {
        throw new IllegalStateException("transient failure on rank 1");
      }
      ByteBuffer all = ByteBuffer.allocateDirect(16).order(ByteOrder.nativeOrder());
      ctx.processGroup().allGather(longs(ctx.attempt()), all, ElementType.INT64);
      return new ArrayList<>(List.of(all.getLong(0), all.getLong(8)));
    });
    assertEquals(List.of(1L, 1L), attempts, "both ranks must run again in the second attempt");
  }

  @Test
  void anExceptionOnOneRankReachesTheDriverWithTheRankAndStackTrace() {
    LaunchFailedException e = assertThrows(LaunchFailedException.class, () -> BarrierLauncher.run(sc, 2, OPTIONS,
        ctx -> {
          if (ctx.rank() == 1) {
            throw new IllegalArgumentException("rank one cannot read its shard");
          }
          ctx.processGroup().barrier();
          return "unreachable";
        }));
    // A bad-input error cannot go away on a retry: the job fails at once, in one line naming the rank; the
    // rank's stack trace travels with the exception.
    assertEquals("rank 1 of 2 failed, and a retry cannot cure it (so the stage was not retried): rank one cannot"
        + " read its shard", e.getMessage());
    assertEquals(1, e.failedRank());
    assertFalse(e.retryable());
    String trace = java.util.Arrays.stream(e.getSuppressed()).map(Throwable::getMessage)
        .collect(java.util.stream.Collectors.joining("\n"));
    assertTrue(trace.contains("at io.sparkformers.it.accelerate.BarrierLaunchIT"), "no stack trace in: " + trace);
  }
}
