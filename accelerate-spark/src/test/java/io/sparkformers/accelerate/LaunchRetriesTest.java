package io.sparkformers.accelerate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Retries of the barrier stage as the driver sees them, on local[2] (ranks are threads of this JVM, so the
 * rank functions can record what they saw in static fields): one line per retry to the run's driver channel,
 * no retry for an error a retry cannot cure, and a killed rank that leaves its wait at once.
 */
class LaunchRetriesTest {
  private static JavaSparkContext sc;
  private static final ProcessGroupOptions OPTIONS = ProcessGroupOptions.builder().timeout(Duration.ofSeconds(60))
      .build();
  private static final AtomicBoolean RETRIED = new AtomicBoolean();

  @BeforeAll
  static void startSpark() {
    sc = new JavaSparkContext(LocalSpark.conf(2, "launch-retries-test")
        .set("spark.stage.maxConsecutiveAttempts", "3"));
  }

  @AfterAll
  static void stopSpark() {
    sc.stop();
  }

  /** An I/O error that a retry cannot cure, marked so. */
  static final class CorruptFile extends java.io.UncheckedIOException implements NonRetryable {
    private static final long serialVersionUID = 1L;

    CorruptFile() {
      super("model.safetensors: truncated", new java.io.IOException("truncated"));
    }
  }

  /** Records the launcher's lines for the run, as a DriverLogListener would print them. */
  private static final class Lines implements DriverChannel.Listener {
    final List<String> lines = Collections.synchronizedList(new ArrayList<>());

    @Override
    public void onMessage(int rank, String message) {}

    @Override
    public void onStageRetry(String reason, int attempt, int maxAttempts) {
      lines.add(reason + " | attempt " + attempt + " of " + maxAttempts);
    }

    @Override
    public void onLaunchNote(String line) {
      lines.add(line);
    }
  }

  @Test
  void aRetryIsOneLineNamingTheRankAndItsErrorAndAKilledRankLeavesItsWaitAtOnce() {
    Lines lines = new Lines();
    long start = System.nanoTime();
    long[] result;
    try (DriverChannel channel = DriverChannel.open(sc, 2, lines)) {
      result = BarrierLauncher.run(sc, 2, OPTIONS, ctx -> {
        if (ctx.attempt() == 0) {
          if (ctx.rank() == 1) {
            throw new IllegalStateException("transient failure on rank 1");
          }
          // Rank 0 is busy outside any collective, so rank 1's abort cannot reach it: only Spark's kill of
          // the failed stage can, and the retry needs its task slot back.
          Thread.sleep(120_000);
        }
        ByteBuffer b = ByteBuffer.allocateDirect(8).order(ByteOrder.nativeOrder()).putLong(0, ctx.attempt());
        ctx.processGroup().allReduce(b, ElementType.INT64, ReduceOp.SUM);
        return new long[] {ctx.attempt(), b.getLong(0)};
      });
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    assertEquals(1, result[0], "rank 0 ran again");
    assertEquals(2, result[1], "both ranks ran again");
    assertTrue(seconds < 60, "took " + seconds + " s: the killed rank 0 slept on with its slot");
    assertEquals(List.of("rank 1 failed: java.lang.IllegalStateException: transient failure on rank 1"
        + " | attempt 2 of 3"), lines.lines);
  }

  @Test
  void anErrorARetryCannotCureFailsTheLaunchOnceInOneLine() {
    RETRIED.set(false);
    LaunchFailedException e = assertThrows(LaunchFailedException.class, () -> BarrierLauncher.run(sc, 2, OPTIONS,
        ctx -> {
          if (ctx.attempt() > 0) {
            RETRIED.set(true);
          }
          if (ctx.rank() == 1) {
            throw new IllegalArgumentException("the weights of 'fc1' have shape [8, 4], the model expects [8, 5]");
          }
          ctx.processGroup().barrier();
          return "unreachable";
        }));
    assertEquals("rank 1 of 2 failed, and a retry cannot cure it (so the stage was not retried): the weights of"
        + " 'fc1' have shape [8, 4], the model expects [8, 5]", e.getMessage());
    assertFalse(e.retryable());
    assertEquals(1, e.failedRank());
    assertTrue(e.getSuppressed().length == 1 && e.getSuppressed()[0].getMessage().contains(
        "at io.sparkformers.accelerate.LaunchRetriesTest"), "the rank's stack trace travels with it");
    assertFalse(RETRIED.get(), "the stage ran again");
    // The context stays usable.
    assertEquals("0/2", BarrierLauncher.run(sc, 2, ctx -> ctx.rank() + "/" + ctx.worldSize()));
  }

  @Test
  void aMarkedExceptionIsNotRetriedEitherAndARetryableOneIsRetriedUntilSparkGivesUp() {
    RETRIED.set(false);
    LaunchFailedException marked = assertThrows(LaunchFailedException.class, () -> BarrierLauncher.run(sc, 2,
        OPTIONS, ctx -> {
          if (ctx.attempt() > 0) {
            RETRIED.set(true);
          }
          if (ctx.rank() == 0) {
            throw new CorruptFile();
          }
          ctx.processGroup().barrier();
          return 0;
        }));
    assertFalse(marked.retryable());
    assertEquals(0, marked.failedRank());
    assertTrue(marked.getMessage().startsWith("rank 0 of 2 failed, and a retry cannot cure it"), marked.getMessage());
    assertFalse(RETRIED.get());

    LaunchFailedException always = assertThrows(LaunchFailedException.class, () -> BarrierLauncher.run(sc, 2,
        OPTIONS, ctx -> {
          if (ctx.rank() == 1) {
            throw new IllegalStateException("fails every time, attempt " + ctx.attempt());
          }
          ctx.processGroup().barrier();
          return 0;
        }));
    assertTrue(always.retryable());
    assertEquals("the barrier stage of 2 ranks failed on rank 1 after 3 attempts:"
        + " java.lang.IllegalStateException: fails every time, attempt 2", always.getMessage());
  }

  @Test
  void aRankThatFailsAfterRankZeroFinishedDoesNotRedoTheRun() {
    // Spark keeps rank 0's output when its success arrives after rank 1's failure, and re-runs rank 1 alone;
    // otherwise it re-runs both. Either way rank 0's result comes back.
    String result = BarrierLauncher.run(sc, 2, OPTIONS, ctx -> {
      ctx.processGroup().barrier();
      if (ctx.rank() == 1 && ctx.attempt() == 0) {
        throw new IllegalStateException("rank 1 failed after the last collective");
      }
      return "rank 0 finished in attempt " + ctx.attempt();
    });
    assertTrue(result.matches("rank 0 finished in attempt [01]"), result);
  }
}
