package io.sparkformers.accelerate;

import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import org.apache.spark.ExceptionFailure;
import org.apache.spark.ExecutorLostFailure;
import org.apache.spark.SparkContext;
import org.apache.spark.TaskEndReason;
import org.apache.spark.TaskKilled;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerExecutorRemoved;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerStageSubmitted;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.SparkListenerTaskStart;
import org.apache.spark.scheduler.StageInfo;
import org.apache.spark.storage.RDDInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
// JavaConverters, not scala.jdk.javaapi: the one converter API both Scala 2.12 (Spark 3.5) and 2.13 have.
import scala.collection.JavaConverters;

/**
 * The driver's view of one launch, from Spark's listener events: it says in one line why the barrier stage is
 * retried once the retry starts ("rank 1's executor was lost; retrying the stage (attempt 2 of 4)"), asks
 * Spark to replace the executor of a rank that stopped answering (a stopped rank still holds its task slot, so
 * the retried stage could never start), and cancels the job at a failure that a retry cannot cure.
 */
final class LaunchMonitor extends SparkListener {
  private static final Logger LOG = LoggerFactory.getLogger(LaunchMonitor.class);
  /** The local property that marks a launch's job, so that the monitor tells it from others. */
  static final String LAUNCH_PROPERTY = "sparkformers.launch.id";

  /** Where the launch's lines go: the run's driver channel listener, or the log. */
  interface Reporter {
    void retry(String reason, int attempt, int maxAttempts);

    void note(String line);
  }

  private final SparkContext sc;
  private final String launchId;
  private final int maxAttempts;
  private final Reporter reporter;
  private int jobId = -1;
  private int stageId = -1;
  /** The executor of each rank in the attempt that runs now (or ran last). */
  private final Map<Integer, String> executors = new HashMap<>();
  private final Map<String, Integer> rankOfExecutor = new HashMap<>();
  private int pendingRetry = -1;
  private String reason;
  private int reasonWeight;
  private volatile RankFailedException.Parsed fatal;
  private volatile String fatalTrace;

  LaunchMonitor(SparkContext sc, String launchId, Reporter reporter) {
    this.sc = sc;
    this.launchId = launchId;
    this.maxAttempts = sc.conf().getInt("spark.stage.maxConsecutiveAttempts", 4);
    this.reporter = reporter;
  }

  /** The failure that ended the launch without a retry (a retry cannot cure it), or null. */
  RankFailedException.Parsed fatal() {
    return fatal;
  }

  /** The stack trace of that failure as the executor reported it, or null. */
  String fatalTrace() {
    return fatalTrace;
  }

  int maxAttempts() {
    return maxAttempts;
  }

  @Override
  public synchronized void onJobStart(SparkListenerJobStart e) {
    Properties p = e.properties();
    if (p == null || !launchId.equals(p.getProperty(LAUNCH_PROPERTY))) {
      return;
    }
    jobId = e.jobId();
    for (StageInfo s : JavaConverters.seqAsJavaListConverter(e.stageInfos()).asJava()) {
      for (RDDInfo rdd : JavaConverters.seqAsJavaListConverter(s.rddInfos()).asJava()) {
        if (rdd.isBarrier()) {
          stageId = s.stageId();
        }
      }
    }
  }

  @Override
  public synchronized void onStageSubmitted(SparkListenerStageSubmitted e) {
    StageInfo s = e.stageInfo();
    if (s.stageId() == stageId && s.attemptNumber() > 0) {
      pendingRetry = s.attemptNumber();
      executors.clear();
    }
  }

  @Override
  public synchronized void onTaskStart(SparkListenerTaskStart e) {
    if (e.stageId() != stageId) {
      return;
    }
    int rank = e.taskInfo().index();
    executors.put(rank, e.taskInfo().executorId());
    rankOfExecutor.put(e.taskInfo().executorId(), rank);
    if (e.stageAttemptId() == pendingRetry) {
      // The retry has really started (it had to wait for free slots): say why it runs.
      reporter.retry(reason != null ? reason : "the barrier stage failed", pendingRetry + 1, maxAttempts);
      pendingRetry = -1;
      reason = null;
      reasonWeight = 0;
    }
  }

  @Override
  public synchronized void onTaskEnd(SparkListenerTaskEnd e) {
    if (e.stageId() != stageId) {
      return;
    }
    TaskEndReason r = e.reason();
    int rank = e.taskInfo().index();
    if (r instanceof ExecutorLostFailure lost) {
      blame(3, "rank " + rank + "'s executor was lost" + lostBecause(lost.reason()));
    } else if (r instanceof ExceptionFailure ef) {
      RankFailedException.Parsed parsed = RankFailedException.parse(ef.description());
      if (parsed == null) {
        blame(1, "rank " + rank + " failed: " + firstLine(ef.className() + ": " + ef.description()));
        return;
      }
      if (!parsed.retryable() && fatal == null) {
        fatalTrace = ef.fullStackTrace();
        fatal = parsed;
        LOG.info("rank {} failed with an error a retry cannot cure; cancelling job {}", parsed.rank(), jobId);
        sc.cancelJob(jobId, "rank " + parsed.rank() + " failed with an error that a retry cannot cure");
        return;
      }
      if (!parsed.unresponsiveRanks().isEmpty()) {
        replaceExecutors(parsed);
        return;
      }
      // A rank that failed because a peer went away weighs less than the peer's own report.
      RankFailedException.Parsed origin = parsed.origin();
      boolean peerGone = origin.cause().startsWith(CollectiveException.class.getName());
      blame(peerGone ? 1 : 2, "rank " + origin.rank() + " failed: " + firstLine(origin.cause()));
    } else if (!(r instanceof TaskKilled)) {
      blame(1, "rank " + rank + " failed: " + firstLine(String.valueOf(r)));
    }
  }

  @Override
  public synchronized void onExecutorRemoved(SparkListenerExecutorRemoved e) {
    Integer rank = rankOfExecutor.get(e.executorId());
    if (rank != null && stageId >= 0) {
      blame(3, "rank " + rank + "'s executor was lost" + lostBecause(scala.Option.apply(e.reason())));
    }
  }

  /** Has Spark replace the executors of ranks that stopped answering, so that their slots come free. */
  private void replaceExecutors(RankFailedException.Parsed parsed) {
    for (int stuck : parsed.unresponsiveRanks()) {
      String executor = executors.get(stuck);
      if (executor == null || executor.equals("driver")) {
        blame(3, "rank " + stuck + " did not answer rank " + parsed.rank() + " within the collective timeout");
        continue;
      }
      boolean asked;
      try {
        // killExecutor would also lower the application's executor target, and a standalone master would then
        // never start a replacement; this is the call Spark makes for an executor whose heartbeats stopped.
        asked = sc.killAndReplaceExecutor(executor);
      } catch (LinkageError notThere) {
        asked = sc.killExecutor(executor) && sc.requestExecutors(1);
      }
      reporter.note("rank " + stuck + " did not answer rank " + parsed.rank() + " within the collective timeout"
          + " (ddp_timeout); " + (asked ? "asked Spark to replace its executor " + executor
          : "Spark could not replace its executor " + executor));
      blame(3, "rank " + stuck + " was stuck (its executor " + executor + (asked ? " was replaced)" : ")"));
    }
  }

  private void blame(int weight, String text) {
    if (weight > reasonWeight) {
      reasonWeight = weight;
      reason = text;
    }
  }

  private static String lostBecause(scala.Option<String> reason) {
    if (reason.isEmpty() || reason.get() == null || reason.get().isBlank()) {
      return "";
    }
    return " (" + firstLine(reason.get()) + ")";
  }

  static String firstLine(String text) {
    String s = String.valueOf(text).strip();
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl).strip();
  }

  /** The retry lines of a launch without a driver channel go to the log. */
  static Reporter logReporter() {
    return new Reporter() {
      @Override
      public void retry(String reason, int attempt, int maxAttempts) {
        LOG.warn("{}; retrying the stage (attempt {} of {})", reason, attempt, maxAttempts);
      }

      @Override
      public void note(String line) {
        LOG.warn(line);
      }
    };
  }
}
