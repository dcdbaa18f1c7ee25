package io.sparkformers.accelerate;

import ai.djl.Device;
import io.sparkformers.accelerate.internal.Backends;
import io.sparkformers.accelerate.internal.SingleRankProcessGroup;
import io.sparkformers.accelerate.internal.TaskKillWatcher;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.BarrierTaskInfo;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.resource.ResourceInformation;
// JavaConverters, not scala.jdk.javaapi: the one converter API both Scala 2.12 (Spark 3.5) and 2.13 have.
import scala.collection.JavaConverters;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;
import scala.runtime.AbstractFunction1;

/**
 * Runs a {@link RankFunction} on {@code worldSize} Spark barrier tasks ({@code RDD.barrier().mapPartitions})
 * as one process group, and returns rank 0's result to the driver.
 *
 * <pre>{@code
 * Double loss = BarrierLauncher.run(sc, 2, ctx -> {
 *   ProcessGroup pg = ctx.processGroup();
 *   ... train, pg.allReduce(gradients, ElementType.FLOAT32, ReduceOp.AVG) ...
 *   return finalLoss;
 * });
 * // or over data: the training RDD repartitioned into worldSize partitions, one per rank
 * BarrierLauncher.run(rows.repartition(2), options, ctx -> { Iterator<Row> mine = ctx.partition(); ... });
 * }</pre>
 *
 * <p>Each task learns every peer's address and a per-run secret (drawn by rank 0) through
 * {@code BarrierTaskContext.allGather}; the backend authenticates every connection with that secret. A rank
 * takes its device from the task's {@code gpu} resources (else the CPU) and its intra-op thread count from
 * its share of the executor's cores. On {@code local[N]} the ranks are threads of the driver JVM; on
 * {@code local-cluster}, standalone, YARN and Kubernetes they are tasks on executors, configured the usual
 * way ({@code spark.executor.cores}, {@code spark.task.resource.gpu.amount}, ...). A barrier stage needs as
 * many free task slots as ranks.
 *
 * <p>An exception on any rank is sent to the other ranks (which fail at once instead of waiting for their
 * timeout) and fails the stage; Spark retries the barrier stage as a whole, up to
 * {@code spark.stage.maxConsecutiveAttempts} (4) times, so every rank restarts (see
 * {@link RankContext#attempt()}; the stage is followed by a one-partition shuffle because Spark never
 * retries a barrier result stage). Each retry is reported in one line ("rank 1's executor was lost; retrying
 * the stage (attempt 2 of 4)") to the run's {@link DriverChannel} listener, or to the log. An error that a retry
 * cannot cure ({@link NonRetryable}, {@link IllegalArgumentException}) cancels the job at once instead. A rank
 * that timed out waiting for another in a collective names it, and the driver has Spark replace that rank's
 * executor (a stopped one would keep its task slot). When Spark gives up, {@code run} throws
 * {@link LaunchFailedException}, whose message is one line naming the rank and its error (Spark's report, with
 * the ranks' stack traces, is its cause).
 */
public final class BarrierLauncher {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(BarrierLauncher.class);
  private static final Pattern RANK_IN_MESSAGE = Pattern.compile("RankFailedException: rank (\\d+) of");

  private BarrierLauncher() {}

  /** Runs {@code fn} on {@code worldSize} ranks with default options. */
  public static <T> T run(JavaSparkContext sc, int worldSize, RankFunction<T> fn) {
    return run(sc, worldSize, ProcessGroupOptions.defaults(), fn);
  }

  /** Runs {@code fn} on {@code worldSize} ranks, without data ({@link RankContext#partition()} is empty). */
  public static <T> T run(JavaSparkContext sc, int worldSize, ProcessGroupOptions options, RankFunction<T> fn) {
    if (worldSize < 1) {
      throw new IllegalArgumentException("worldSize must be at least 1, got " + worldSize);
    }
    List<Integer> ranks = new ArrayList<>();
    for (int r = 0; r < worldSize; r++) {
      ranks.add(r);
    }
    return launch(sc.parallelize(ranks, worldSize), worldSize, options, fn, false);
  }

  /** Runs {@code fn} on one rank per partition of {@code data}, each rank iterating its partition. */
  public static <T> T run(JavaRDD<?> data, RankFunction<T> fn) {
    return run(data, ProcessGroupOptions.defaults(), fn);
  }

  /** {@link #run(JavaRDD, RankFunction)} with options. */
  public static <T> T run(JavaRDD<?> data, ProcessGroupOptions options, RankFunction<T> fn) {
    return launch(data, data.getNumPartitions(), options, fn, true);
  }

  @SuppressWarnings("unchecked")
  private static <E, T> T launch(JavaRDD<E> data, int worldSize, ProcessGroupOptions options, RankFunction<T> fn,
      boolean withData) {
    // Fail on the driver, not in every task, for a misspelt backend ("auto" is resolved by each rank).
    Backends.named(DeviceSelection.chooseBackend(options.backend(), Device.cpu()));
    ClassTag<Object> tag = ClassTag$.MODULE$.apply(Object.class);
    JavaSparkContext sc = JavaSparkContext.fromSparkContext(data.context());
    String launchId = UUID.randomUUID().toString();
    LaunchMonitor.Reporter reporter = DriverChannel.listenerForThisThread(sc)
        .<LaunchMonitor.Reporter>map(l -> new LaunchMonitor.Reporter() {
          @Override
          public void retry(String reason, int attempt, int maxAttempts) {
            l.onStageRetry(reason, attempt, maxAttempts);
          }

          @Override
          public void note(String line) {
            l.onLaunchNote(line);
          }
        }).orElseGet(LaunchMonitor::logReporter);
    LaunchMonitor monitor = new LaunchMonitor(sc.sc(), launchId, reporter);
    String previousId = sc.getLocalProperty(LaunchMonitor.LAUNCH_PROPERTY);
    sc.setLocalProperty(LaunchMonitor.LAUNCH_PROPERTY, launchId);
    sc.sc().addSparkListener(monitor);
    List<Object> out;
    try {
      // The shuffle after the barrier stage makes it a ShuffleMapStage, which Spark retries as a whole on a
      // task failure (up to spark.stage.maxConsecutiveAttempts); a failed barrier ResultStage is never retried.
      out = JavaRDD.fromRDD(data.rdd().barrier()
          .mapPartitions(new RankTask<E, T>(options, fn, withData, worldSize), false, tag), tag).repartition(1)
          .collect();
    } catch (Exception e) { // SparkException is checked but thrown undeclared from Scala
      if (e instanceof LaunchFailedException lfe) {
        throw lfe;
      }
      throw launchFailure(e, worldSize, monitor);
    } finally {
      sc.sc().removeSparkListener(monitor);
      sc.setLocalProperty(LaunchMonitor.LAUNCH_PROPERTY, previousId);
    }
    if (out.size() != 1) {
      throw new IllegalStateException("expected rank 0's result only, got " + out.size() + " results");
    }
    return (T) ((List<Object>) out.get(0)).get(0);
  }

  /**
   * One line for the caller: the failed rank and its own error, not Spark's report with its stack traces
   * (that stays the exception's cause).
   */
  private static LaunchFailedException launchFailure(Exception e, int worldSize, LaunchMonitor monitor) {
    RankFailedException.Parsed fatal = monitor.fatal();
    if (fatal != null) {
      fatal = fatal.origin();
      LaunchFailedException f = new LaunchFailedException("rank " + fatal.rank() + " of " + worldSize
          + " failed, and a retry cannot cure it (so the stage was not retried): " + readable(fatal.cause()),
          fatal.rank(), e, false);
      if (monitor.fatalTrace() != null) {
        // Spark's exception only says the job was cancelled: keep the rank's own stack trace with it.
        f.addSuppressed(new RankFailedException.RemoteTrace(monitor.fatalTrace()));
      }
      return f;
    }
    RankFailedException.Parsed parsed = null;
    for (Throwable t = e; t != null && parsed == null; t = t.getCause() == t ? null : t.getCause()) {
      parsed = RankFailedException.parse(t.getMessage());
    }
    if (parsed != null) {
      parsed = parsed.origin();
      return new LaunchFailedException("the barrier stage of " + worldSize + " ranks failed on rank "
          + parsed.rank() + (monitor.maxAttempts() > 1 ? " after " + monitor.maxAttempts()
          + " attempts" : "") + ": " + readable(parsed.cause()), parsed.rank(), e, parsed.retryable());
    }
    int rank = failedRank(e);
    return new LaunchFailedException("the barrier stage of " + worldSize + " ranks failed"
        + (rank >= 0 ? " on rank " + rank : "") + ": " + LaunchMonitor.firstLine(e.getMessage()), rank, e, true);
  }

  /** A rank's error as its first line, without the class name of a plain bad-input error. */
  private static String readable(String cause) {
    String line = LaunchMonitor.firstLine(cause);
    String iae = IllegalArgumentException.class.getName() + ": ";
    return line.startsWith(iae) ? line.substring(iae.length()) : line;
  }

  private static int failedRank(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof RankFailedException rf) {
        return rf.rank();
      }
      Matcher m = RANK_IN_MESSAGE.matcher(String.valueOf(t.getMessage()));
      if (m.find()) {
        return Integer.parseInt(m.group(1));
      }
    }
    return -1;
  }

  /** The function each barrier task runs: rendezvous, open the group, run the rank function, close. */
  private static final class RankTask<E, T>
      extends AbstractFunction1<scala.collection.Iterator<E>, scala.collection.Iterator<Object>>
      implements java.io.Serializable {
    private static final long serialVersionUID = 1L;
    private final ProcessGroupOptions options;
    private final RankFunction<T> fn;
    private final boolean withData;
    private final int ranks;

    RankTask(ProcessGroupOptions options, RankFunction<T> fn, boolean withData, int ranks) {
      this.ranks = ranks;
      this.options = options;
      this.fn = fn;
      this.withData = withData;
    }

    @Override
    public scala.collection.Iterator<Object> apply(scala.collection.Iterator<E> partition) {
      BarrierTaskContext ctx = BarrierTaskContext.get();
      BarrierTaskInfo[] infos = ctx.getTaskInfos();
      int rank = ctx.partitionId();
      int worldSize = infos.length;
      int attempt = ctx.stageAttemptNumber();
      if (worldSize != ranks) {
        // Spark keeps the output of a task that finished while another failed, and re-runs only the failed
        // partitions: here rank 0 already returned, so the run is over and this rank has nothing to do.
        if (rank != 0) {
          LOG.warn("rank {}: Spark re-ran {} of {} ranks (attempt {}) after rank 0 had finished; nothing to do",
              rank, worldSize, ranks, attempt);
          return JavaConverters.asScalaIteratorConverter(Collections.<Object>emptyIterator()).asScala();
        }
        throw new RankFailedException(rank, ranks, attempt, new IllegalStateException("Spark re-ran " + worldSize
            + " of the " + ranks + " ranks, rank 0 among them, while the others had finished: the ranks can only"
            + " run together"), false, List.of());
      }
      int threads = intraOpThreads(infos, rank);
      GompSpinCount.setIfMissing(); // before the rank function loads libtorch (and libgomp) in this JVM
      if (System.getProperty("ai.djl.pytorch.num_threads") == null) {
        // Read once per JVM when DJL's engine loads; harmless when it is loaded already.
        System.setProperty("ai.djl.pytorch.num_threads", Integer.toString(threads));
      }
      Device device = device(ctx);
      T result;
      // Spark kills the tasks of a failed barrier stage without interrupting their threads: the watcher
      // closes this rank's sockets then, so that no wait (accept, handshake, collective) outlives the kill.
      try (TaskKillWatcher watcher = TaskKillWatcher.start(ctx, rank)) {
        ProcessGroup pg;
        try {
          pg = openGroup(ctx, infos, rank, worldSize, device, watcher);
        } catch (RuntimeException e) {
          throw failure(rank, worldSize, attempt, e);
        }
        watcher.guard(pg);
        try {
          RankContext rc = new RankContext(pg, device, threads, attempt,
              withData ? JavaConverters.asJavaIteratorConverter(partition).asJava() : Collections.emptyIterator());
          result = fn.apply(rc);
        } catch (Throwable t) {
          RankFailedException failed = failure(rank, worldSize, attempt, t);
          pg.abort(failed); // the peers fail quoting this, "[not retryable]" included
          throw failed;
        } finally {
          pg.close();
        }
      }
      if (rank != 0) {
        return JavaConverters.asScalaIteratorConverter(Collections.<Object>emptyIterator()).asScala();
      }
      List<Object> holder = new ArrayList<>(1); // a holder, so that a null result comes back too
      holder.add(result);
      return JavaConverters.asScalaIteratorConverter(Collections.<Object>singletonList(holder).iterator()).asScala();
    }

    private static RankFailedException failure(int rank, int worldSize, int attempt, Throwable t) {
      return new RankFailedException(rank, worldSize, attempt, t, !Failures.notRetryable(t),
          Failures.unresponsiveRanks(t));
    }

    private ProcessGroup openGroup(BarrierTaskContext ctx, BarrierTaskInfo[] infos, int rank, int worldSize,
        Device device, TaskKillWatcher watcher) {
      if (worldSize == 1) {
        return new SingleRankProcessGroup();
      }
      String host = hostOf(infos[rank].address());
      ProcessGroupOptions rankOptions = options.toBuilder().cudaDevice(device.isGpu() ? device.getDeviceId() : -1)
          .build();
      ProcessGroupBackend.Endpoint endpoint = Backends.named(DeviceSelection.chooseBackend(options.backend(),
          device)).listen(rank, worldSize, host, rankOptions);
      watcher.guard(endpoint);
      try {
        String secret = "";
        if (rank == 0) {
          byte[] s = new byte[32];
          new SecureRandom().nextBytes(s);
          secret = Base64.getEncoder().encodeToString(s);
        }
        // "address|secret": only rank 0's message carries the secret.
        String[] all = ctx.allGather(endpoint.address() + "|" + secret);
        List<String> addresses = new ArrayList<>(worldSize);
        for (String m : all) {
          addresses.add(m.substring(0, m.lastIndexOf('|')));
        }
        String secret0 = all[0].substring(all[0].lastIndexOf('|') + 1);
        return endpoint.connect(addresses, Base64.getDecoder().decode(secret0));
      } catch (RuntimeException e) {
        endpoint.close();
        throw e;
      }
    }

    private static String hostOf(String address) {
      int colon = address.lastIndexOf(':');
      return colon > 0 ? address.substring(0, colon) : address;
    }

    private static Device device(BarrierTaskContext ctx) {
      ResourceInformation gpu = ctx.resourcesJMap().get("gpu");
      return DeviceSelection.forSparkTask(DeviceSelection.Mode.AUTO,
          gpu == null ? List.of() : Arrays.asList(gpu.addresses()), DeviceSelection::visibleGpus);
    }

    /** This rank's share of its executor's cores: executor cores divided by the ranks on that executor. */
    private static int intraOpThreads(BarrierTaskInfo[] infos, int rank) {
      int cores = executorCores();
      String mine = infos[rank].address();
      long here = Arrays.stream(infos).filter(i -> i.address().equals(mine)).count();
      return (int) Math.max(1, cores / Math.max(1, here));
    }

    private static int executorCores() {
      SparkEnv env = SparkEnv.get();
      int available = Runtime.getRuntime().availableProcessors();
      if (env == null) {
        return available;
      }
      int cores = env.conf().getInt("spark.executor.cores", 0);
      if (cores > 0) {
        return cores;
      }
      String master = env.conf().get("spark.master", "");
      Matcher m = Pattern.compile("^local\\[(\\d+|\\*)").matcher(master);
      if (m.find()) {
        return m.group(1).equals("*") ? available : Integer.parseInt(m.group(1));
      }
      return available;
    }
  }
}
