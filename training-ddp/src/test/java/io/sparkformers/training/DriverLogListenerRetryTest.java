package io.sparkformers.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparkformers.accelerate.BarrierLauncher;
import io.sparkformers.accelerate.DriverChannel;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The driver's view of a retried run (local[2], a real barrier stage and a real driver channel): rank 0 sends
 * the events a Trainer sends; rank 1 fails once after checkpoint-20. The driver prints one line naming the
 * failure and the checkpoint the retry resumes from, the bar goes on from the resumed step, and the log history
 * holds each step once.
 */
class DriverLogListenerRetryTest {
  private static JavaSparkContext sc;
  private static final ObjectMapper JSON = new ObjectMapper();

  @BeforeAll
  static void startSpark() {
    sc = new JavaSparkContext(new SparkConf().setMaster("local[2]").setAppName("driver-log-retry-test")
        .set("spark.driver.host", "127.0.0.1").set("spark.driver.bindAddress", "127.0.0.1")
        .set("spark.ui.enabled", "false").set("spark.stage.maxConsecutiveAttempts", "2")
        .set("spark.scheduler.barrier.maxConcurrentTasksCheck.interval", "1s"));
  }

  @AfterAll
  static void stopSpark() {
    sc.stop();
  }

  private static String event(String name, long step, Map<String, Object> more) throws Exception {
    Map<String, Object> e = new LinkedHashMap<>();
    e.put("event", name);
    e.put("global_step", step);
    e.put("epoch", step / 10.0);
    e.putAll(more);
    return JSON.writeValueAsString(e);
  }

  /** What rank 0's Trainer sends for steps {@code from+1..to}: a log every 10 steps, a save every 20. */
  private static void sendSteps(DriverChannel.Sender s, long from, long to) throws Exception {
    s.send(event("train_begin", from, Map.of("max_steps", 60, "samples_per_step", 32,
        "args", Map.of("output_dir", "out"))));
    for (long step = from + 1; step <= to; step++) {
      s.send(event("step_end", step, Map.of()));
      if (step % 10 == 0) {
        s.send(event("log", step, Map.of("logs", Map.of("loss", 1.0 / step, "learning_rate", 0.01))));
      }
      if (step % 20 == 0) {
        s.send(event("save", step, Map.of("checkpoint", "checkpoint-" + step)));
      }
    }
  }

  @Test
  void aRetryIsOneLineWithItsCheckpointTheBarGoesOnAndEachStepIsLoggedOnce() throws Exception {
    ByteArrayOutputStream console = new ByteArrayOutputStream();
    List<Map<String, Object>> history;
    try (DriverLogListener logs = DriverLogListener.open(sc, 2, new PrintStream(console, true,
        StandardCharsets.UTF_8), List.of())) {
      int attempt = BarrierLauncher.run(sc, 2, ctx -> {
        if (ctx.rank() == 0) {
          try (DriverChannel.Sender s = DriverChannel.senderForThisTask(0).orElseThrow()) {
            if (ctx.attempt() == 0) {
              sendSteps(s, 0, 30); // checkpoint-20 saved; rank 1 then fails at step 30
            } else {
              sendSteps(s, 20, 60);
              s.send(event("train_end", 60, Map.of()));
            }
          } // closing drains the queue: the driver has every event before rank 1 fails
        }
        ctx.processGroup().barrier();
        if (ctx.rank() == 1 && ctx.attempt() == 0) {
          throw new IllegalStateException("rank 1 lost its disk at step 30");
        }
        // Rank 0 must fail with rank 1 (here in the second barrier), not finish: a barrier stage whose rank 0
        // succeeded is re-run by Spark for the failed partition alone.
        ctx.processGroup().barrier();
        return ctx.attempt();
      });
      assertEquals(1, attempt);
      logs.close();
      history = logs.logHistory();
      assertTrue(logs.trainEnded());
    }
    String out = console.toString(StandardCharsets.UTF_8);
    assertTrue(out.contains("\nrank 1 failed: java.lang.IllegalStateException: rank 1 lost its disk at step 30;"
        + " retrying the stage (attempt 2 of 2) from checkpoint-20\n"), out);
    // The bar showed step 30, then goes on from the resumed step 20 to the end.
    int retry = out.indexOf("retrying the stage");
    int thirty = out.indexOf(" 30/60 [");
    assertTrue(thirty >= 0 && thirty < retry, out);
    assertTrue(out.indexOf(" 21/60 [", retry) > retry, out);
    assertTrue(out.contains(" 60/60 ["), out);
    assertEquals(List.of(10L, 20L, 30L, 40L, 50L, 60L), history.stream()
        .map(h -> ((Number) h.get("step")).longValue()).toList(), "each step once: " + history);
  }
}
