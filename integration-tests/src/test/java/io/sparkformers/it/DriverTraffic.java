package io.sparkformers.it;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.appender.AbstractAppender;
import org.apache.logging.log4j.core.config.Configuration;
import org.apache.logging.log4j.core.config.LoggerConfig;
import org.apache.logging.log4j.core.config.Property;
import org.apache.spark.SparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerBlockUpdated;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.storage.BlockUpdatedInfo;

/**
 * Test support: the bytes a Spark driver exchanged with its executors while it was open, the three ways data can
 * pass through a driver: serialized tasks it launched (a {@code parallelize}d collection travels inside them),
 * broadcast pieces it stored (task binaries: every stage's closure, and any explicit broadcast), and task
 * results it received ({@code collect}). The task sizes come from the scheduler's "Starting task ... (..., N
 * bytes)" log line, the only place Spark states them; the session should set {@code spark.broadcast.compress}
 * to false so that broadcast sizes are the closures' own.
 */
public final class DriverTraffic implements AutoCloseable {
  private static final String TASK_SET_MANAGER = "org.apache.spark.scheduler.TaskSetManager";
  private static final Pattern TASK_BYTES = Pattern.compile("^Starting task .*, (\\d+) bytes\\)");

  private final SparkContext sc;
  private final AtomicLong taskBytes = new AtomicLong();
  private final AtomicLong tasks = new AtomicLong();
  private final AtomicLong resultBytes = new AtomicLong();
  private final AtomicLong largestTask = new AtomicLong();
  private final AtomicLong largestResult = new AtomicLong();
  private final Map<String, Long> broadcastPieces = new ConcurrentHashMap<>();
  private final SparkListener listener;
  private final AbstractAppender appender;
  private final LoggerConfig previous;
  private final boolean added;

  private DriverTraffic(SparkContext sc) {
    this.sc = sc;
    listener = new SparkListener() {
      @Override
      public void onTaskEnd(SparkListenerTaskEnd e) {
        if (e.taskMetrics() != null) {
          resultBytes.addAndGet(e.taskMetrics().resultSize());
          largestResult.accumulateAndGet(e.taskMetrics().resultSize(), Math::max);
        }
      }

      @Override
      public void onBlockUpdated(SparkListenerBlockUpdated e) {
        BlockUpdatedInfo b = e.blockUpdatedInfo();
        // The driver's own pieces, as stored (a removal reports size 0 later).
        if (b.blockManagerId().isDriver() && b.blockId().isBroadcast() && b.blockId().name().contains("_piece")) {
          broadcastPieces.merge(b.blockId().name(), b.memSize() + b.diskSize(), Math::max);
        }
      }
    };
    appender = new AbstractAppender("driver-traffic-" + System.identityHashCode(this), null, null, true,
        Property.EMPTY_ARRAY) {
      @Override
      public void append(LogEvent event) {
        Matcher m = TASK_BYTES.matcher(event.getMessage().getFormattedMessage());
        if (m.find()) {
          long bytes = Long.parseLong(m.group(1));
          taskBytes.addAndGet(bytes);
          largestTask.accumulateAndGet(bytes, Math::max);
          tasks.incrementAndGet();
        }
      }
    };
    appender.start();
    LoggerContext ctx = (LoggerContext) LogManager.getContext(false);
    Configuration config = ctx.getConfiguration();
    LoggerConfig existing = config.getLoggers().get(TASK_SET_MANAGER);
    previous = existing;
    if (existing == null) {
      // INFO for this one logger only, and not passed on to the console.
      LoggerConfig lc = new LoggerConfig(TASK_SET_MANAGER, Level.INFO, false);
      lc.addAppender(appender, Level.INFO, null);
      config.addLogger(TASK_SET_MANAGER, lc);
      added = true;
    } else {
      existing.addAppender(appender, Level.INFO, null);
      added = false;
    }
    ctx.updateLoggers();
    sc.addSparkListener(listener);
  }

  /** Starts counting on {@code sc}'s driver. */
  public static DriverTraffic start(SparkContext sc) {
    return new DriverTraffic(sc);
  }

  /** What was counted so far, once the events posted until now have reached the listener. */
  public Counts counts() {
    try {
      sc.listenerBus().waitUntilEmpty();
    } catch (java.util.concurrent.TimeoutException e) {
      throw new IllegalStateException("Spark's listener bus did not drain", e);
    }
    // A broadcast's size: the sum of its pieces (broadcast_N_pieceM).
    Map<String, Long> broadcasts = new java.util.HashMap<>();
    broadcastPieces.forEach((piece, bytes) -> broadcasts.merge(piece.substring(0, piece.indexOf("_piece")), bytes,
        Long::sum));
    long broadcast = broadcasts.values().stream().mapToLong(Long::longValue).sum();
    long largestBroadcast = broadcasts.values().stream().mapToLong(Long::longValue).max().orElse(0);
    return new Counts(tasks.get(), taskBytes.get(), broadcast, resultBytes.get(),
        Math.max(largestTask.get(), Math.max(largestBroadcast, largestResult.get())));
  }

  @Override
  public void close() {
    sc.removeSparkListener(listener);
    LoggerContext ctx = (LoggerContext) LogManager.getContext(false);
    Configuration config = ctx.getConfiguration();
    if (added) {
      config.removeLogger(TASK_SET_MANAGER);
    } else {
      previous.removeAppender(appender.getName());
    }
    ctx.updateLoggers();
    appender.stop();
  }

  /**
   * Bytes sent in {@code tasks} serialized tasks and in broadcasts, and received as task results; the largest
   * single one of them (a task, a broadcast or a result).
   */
  public record Counts(long tasks, long taskBytes, long broadcastBytes, long resultBytes, long largest) {
    public long total() {
      return taskBytes + broadcastBytes + resultBytes;
    }

    @Override
    public String toString() {
      return String.format(java.util.Locale.ROOT, "%d tasks of %,d bytes in all, %,d bytes of broadcast pieces,"
          + " %,d bytes of task results; the largest one %,d bytes", tasks, taskBytes, broadcastBytes, resultBytes,
          largest);
    }
  }
}
