package io.sparkformers.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import io.sparkformers.accelerate.BarrierLauncher;
import io.sparkformers.accelerate.ElementType;
import io.sparkformers.accelerate.ProcessGroupOptions;
import io.sparkformers.accelerate.RankContext;
import io.sparkformers.accelerate.RankFunction;
import io.sparkformers.accelerate.ReduceOp;
import io.sparkformers.it.training.SeparableData;
import io.sparkformers.training.ArrayData;
import io.sparkformers.training.DriverLogListener;
import io.sparkformers.training.Trainer;
import io.sparkformers.training.TrainerCallback;
import io.sparkformers.training.TrainerControl;
import io.sparkformers.training.TrainerState;
import io.sparkformers.training.TrainingArguments;
import io.sparkformers.training.models.AutoConfig;
import io.sparkformers.training.models.AutoModel;
import io.sparkformers.training.models.PreTrainedModel;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Failures on a real Spark standalone cluster (a Master and two one-core Workers, child JVMs of this test; the
 * Workers start the executor JVMs): an executor killed with SIGKILL mid-training, an executor frozen with
 * SIGSTOP, and a stranger holding a silent connection to rank 0 during rendezvous. Each run is a small MLP of 60
 * steps, checkpointed every 20; every failure is injected at step 30 of the first attempt.
 */
class StandaloneClusterFailuresIT {
  private static final ProcessGroupOptions OPTIONS =
      ProcessGroupOptions.builder().timeout(Duration.ofSeconds(15)).build();
  private static final Pattern WAITING = Pattern.compile(
      "rank 0: waiting \\d+ s for rank 1 in collective #\\d+ \\w+ \\(it fails after 15 s: ddp_timeout\\)");

  @TempDir static Path tmp;
  private static StandaloneCluster cluster;
  private static JavaSparkContext sc;
  private static String uninterrupted;

  @BeforeAll
  static void startCluster() throws Exception {
    cluster = StandaloneCluster.start(tmp.resolve("cluster"), 2, 1, 1024);
    Files.createDirectories(tmp.resolve("stranger"));
    sc = new JavaSparkContext(cluster.conf("standalone-failures-it", 2, 512)
        .set("spark.stage.maxConsecutiveAttempts", "3")
        .set("spark.executorEnv.SPARKFORMERS_IT_STRANGER_DIR", tmp.resolve("stranger").toString()));
    awaitExecutors(2, Duration.ofSeconds(90));
  }

  @AfterAll
  static void stopCluster() {
    try {
      if (sc != null) {
        sc.stop();
      }
    } finally {
      if (cluster != null) {
        cluster.close();
        assertEquals(List.of(), cluster.alivePids(), "processes of the cluster outlived it");
      }
    }
  }

  private static void awaitExecutors(int executors, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    // getExecutorInfos() lists the driver too.
    while (sc.sc().statusTracker().getExecutorInfos().length < executors + 1) {
      assertTrue(System.nanoTime() < deadline, executors + " executors did not register within " + timeout);
      Thread.sleep(100);
    }
  }

  /** 60 AdamW steps of a small MLP, checkpoints every 20; rank 1 may publish its pid and block at step 30. */
  static final class TrainRank implements RankFunction<String> {
    private static final long serialVersionUID = 1L;
    private final String outputDir;
    private final String pidFile;

    TrainRank(String outputDir, String pidFile) {
      this.outputDir = outputDir;
      this.pidFile = pidFile;
    }

    @Override
    public String apply(RankContext ctx) throws Exception {
      ArrayData data = SeparableData.of(256);
      Engine.getInstance().setRandomSeed(100 + ctx.rank());
      try (PreTrainedModel model = AutoModel.fromConfig(AutoConfig.fromJson(SeparableData.MLP_CONFIG, "it"))) {
        TrainingArguments args = TrainingArguments.builder(outputDir).learningRate(1e-2).weightDecay(0.01)
            .perDeviceTrainBatchSize(16).maxSteps(60).saveSteps(20).loggingSteps(10).build();
        Trainer trainer = Trainer.builder(model, args).trainData(data).rankContext(ctx)
            .callback(new TrainerCallback() {
              @Override
              public void onStepEnd(TrainingArguments a, TrainerState s, TrainerControl c) {
                if (pidFile != null && ctx.attempt() == 0 && ctx.rank() == 1 && s.globalStep() == 30) {
                  publishPidAndWait(pidFile);
                }
              }
            })
            .build();
        trainer.train();
        return ctx.attempt() + " " + trainer.state().globalStep() + " " + trainer.parameterChecksum();
      }
    }

    /** Tells the test which JVM to signal, then waits for the signal (the test kills or stops this JVM). */
    private static void publishPidAndWait(String pidFile) {
      try {
        Path tmpFile = Path.of(pidFile + ".tmp");
        Files.writeString(tmpFile, Long.toString(ProcessHandle.current().pid()));
        Files.move(tmpFile, Path.of(pidFile));
        Thread.sleep(120_000);
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted at step 30", e);
      }
    }
  }

  /** The uninterrupted run's "attempt step checksum", computed once for the class. */
  private static synchronized String uninterrupted() {
    if (uninterrupted == null) {
      uninterrupted = BarrierLauncher.run(sc, 2, OPTIONS, new TrainRank(tmp.resolve("full").toString(), null));
    }
    return uninterrupted;
  }

  /** Runs a training whose rank 1 publishes its pid at step 30; signals that JVM with {@code signal}. */
  private static Run trainAndSignal(String name, String signal) throws Exception {
    String expected = uninterrupted();
    assertTrue(expected.startsWith("0 60 "), expected);
    Path pidFile = tmp.resolve(name + ".pid");
    ByteArrayOutputStream console = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(console, true, StandardCharsets.UTF_8);
    long pid;
    String result;
    boolean survived;
    try (DriverLogListener logs = DriverLogListener.open(sc, 2, out, List.of())) {
      CompletableFuture<String> run = CompletableFuture.supplyAsync(() -> BarrierLauncher.run(sc, 2, OPTIONS,
          new TrainRank(tmp.resolve(name).toString(), pidFile.toString())), CHILD_THREAD);
      pid = awaitPid(pidFile, run);
      assertTrue(cluster.isExecutor(pid), "pid " + pid + " is not an executor JVM of the cluster");
      Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).inheritIO().start();
      assertEquals(0, kill.waitFor(), "kill -" + signal + " " + pid);
      result = run.get(100, TimeUnit.SECONDS);
      // A Worker kills an executor with SIGTERM, then SIGKILL 10 s later (what ends a stopped one), while the
      // Master may start the replacement at once: give it that long, before the cleanup below would do it.
      survived = !exitsWithin(pid, Duration.ofSeconds(20));
    } finally {
      // A stopped JVM that outlived the test would hold its Worker's core: kill it whatever happened.
      if (Files.exists(pidFile)) {
        StandaloneCluster.process(Long.parseLong(Files.readString(pidFile).trim()))
            .ifPresent(ProcessHandle::destroyForcibly);
      }
    }
    String printed = console.toString(StandardCharsets.UTF_8);
    System.err.println("--- what the driver printed (" + name + "):\n" + printed.replace('\r', '\n'));
    return new Run(result, printed, survived);
  }

  private static boolean exitsWithin(long pid, Duration timeout) throws InterruptedException {
    java.util.Optional<ProcessHandle> p = StandaloneCluster.process(pid);
    if (p.isEmpty()) {
      return true;
    }
    try {
      p.get().onExit().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      return true;
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      return false;
    }
  }

  /** What a signalled run returned, what the driver printed, and whether the signalled JVM still ran 20 s after. */
  private record Run(String result, String console, boolean signalledJvmSurvived) {}

  /**
   * Runs the launch on a new thread started by the caller: it inherits the caller's Spark local properties,
   * among them the one that tells the ranks where the driver's log listener is.
   */
  private static final java.util.concurrent.Executor CHILD_THREAD = r -> {
    Thread t = new Thread(r, "launcher");
    t.setDaemon(true);
    t.start();
  };

  private static long awaitPid(Path pidFile, CompletableFuture<String> run) throws Exception {
    long deadline = System.nanoTime() + 90_000_000_000L;
    while (!Files.exists(pidFile)) {
      if (run.isDone()) {
        run.get(); // throws the launch's failure
        throw new AssertionError("the run ended before rank 1 reached step 30: " + run.get());
      }
      assertTrue(System.nanoTime() < deadline, "rank 1 did not reach step 30 within 90 s");
      Thread.sleep(50);
    }
    return Long.parseLong(Files.readString(pidFile).trim());
  }

  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void anExecutorKilledMidTrainingIsReplacedAndTheResumedRunEndsWithTheUninterruptedWeights() throws Exception {
    Run run = trainAndSignal("sigkill", "KILL");
    String[] r = run.result().split(" ");
    assertEquals("1", r[0], "one retry: " + run.result() + "\n" + run.console());
    assertEquals("60", r[1]);
    assertEquals(uninterrupted().split(" ")[2], r[2], "the resumed run's weights differ from the uninterrupted"
        + " run's");
    // One line where the job was launched says what happened and where the retry resumes.
    Matcher m = Pattern.compile("rank 1's executor was lost[^\\n]*; retrying the stage \\(attempt 2 of 3\\) from"
        + " checkpoint-20").matcher(run.console());
    assertTrue(m.find(), run.console());
    assertTrue(Files.isDirectory(tmp.resolve("sigkill").resolve("checkpoint-60")));
  }

  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void aStoppedExecutorIsNamedReplacedAndTheRunRecovers() throws Exception {
    Run run = trainAndSignal("sigstop", "STOP");
    String[] r = run.result().split(" ");
    assertEquals("1", r[0], "one retry: " + run.result() + "\n" + run.console());
    assertEquals("60", r[1]);
    assertEquals(uninterrupted().split(" ")[2], r[2]);
    assertTrue(run.console().matches("(?s).*rank 1 did not answer rank 0 within the collective timeout"
        + " \\(ddp_timeout\\); asked Spark to replace its executor \\d+\\n.*"), run.console());
    assertTrue(run.console().matches("(?s).*rank 1 was stuck \\(its executor \\d+ was replaced\\); retrying the"
        + " stage \\(attempt 2 of 3\\) from checkpoint-20\\n.*"), run.console());
    // Rank 0's watchdog named rank 1 in its executor's log while it waited.
    String logs = cluster.executorLogs();
    // Kept for a look after a failure: the executors' own logs vanish with the cluster's folder.
    Path kept = Path.of("target", "StandaloneClusterFailuresIT-executors.log").toAbsolutePath();
    Files.createDirectories(kept.getParent());
    Files.writeString(kept, logs);
    assertTrue(WAITING.matcher(logs).find(), "no watchdog line in the executor logs:\n"
        + logs.substring(Math.max(0, logs.length() - 4000)));
    assertTrue(!run.signalledJvmSurvived(), "the stopped executor was not killed");
  }

  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void aSilentStrangerOnRankZerosPortDuringRendezvousDoesNotStallTheRun() throws Exception {
    Path dir = tmp.resolve("stranger");
    ProcessGroupOptions options = OPTIONS.toBuilder().timeout(Duration.ofSeconds(60))
        .backend("tcp-stranger-first").build();
    CompletableFuture<Long> run = CompletableFuture.supplyAsync(() -> BarrierLauncher.run(sc, 2, options, ctx -> {
      ByteBuffer b = ByteBuffer.allocateDirect(8).order(ByteOrder.nativeOrder()).putLong(0, ctx.rank() + 1);
      ctx.processGroup().allReduce(b, ElementType.INT64, ReduceOp.SUM);
      return b.getLong(0);
    }));
    Path published = dir.resolve("rank0-address");
    long deadline = System.nanoTime() + 90_000_000_000L;
    while (!Files.exists(published)) {
      assertTrue(System.nanoTime() < deadline && !run.isDone(), "rank 0 did not publish its address");
      Thread.sleep(20);
    }
    String address = Files.readString(published).trim();
    int colon = address.lastIndexOf(':');
    try (Socket stranger = new Socket(address.substring(0, colon), Integer.parseInt(address.substring(colon + 1)))) {
      Files.writeString(dir.resolve("stranger-connected"), "silent");
      long start = System.nanoTime();
      long sum = run.get(60, TimeUnit.SECONDS);
      double seconds = (System.nanoTime() - start) / 1e9;
      assertEquals(3L, sum);
      // A stall was the 300 s of the rendezvous timeout; a handshake deadline alone would be 10 s.
      assertTrue(seconds < 20, "the run took " + seconds + " s after the stranger connected");
      // Rank 0 dropped the stranger when the group was complete.
      stranger.setSoTimeout(20_000);
      assertEquals(-1, stranger.getInputStream().read());
    }
  }
}
