package io.sparkformers.it;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.spark.SparkConf;

/**
 * Test support: a real Spark standalone cluster on 127.0.0.1, a Master and N Workers, each a child JVM run
 * from this JVM's class path; the Workers start executor JVMs as on any standalone cluster. Every process (the
 * executors included, found as the Workers' descendants) is killed by pid on {@link #close()}, and by a
 * shutdown hook should this JVM end first. Needs SPARK_HOME (a folder with an empty {@code jars/}) and
 * SPARK_SCALA_VERSION in the environment, as local-cluster does (failsafe sets both).
 */
public final class StandaloneCluster implements AutoCloseable {
  private final Path dir;
  private final String masterUrl;
  private final List<Process> processes = new ArrayList<>();
  private final Thread cleanup = new Thread(this::killAll, "standalone-cluster-cleanup");

  private StandaloneCluster(Path dir, int masterPort) {
    this.dir = dir;
    this.masterUrl = "spark://127.0.0.1:" + masterPort;
  }

  /** Starts a Master and {@code workers} Workers of {@code cores} cores and {@code memoryMb} MB each. */
  public static StandaloneCluster start(Path dir, int workers, int cores, int memoryMb) throws IOException {
    String sparkHome = System.getenv("SPARK_HOME");
    if (sparkHome == null || System.getenv("SPARK_SCALA_VERSION") == null) {
      throw new IllegalStateException("a standalone cluster needs SPARK_HOME and SPARK_SCALA_VERSION in the"
          + " environment (set by failsafe)");
    }
    Files.createDirectories(Path.of(sparkHome, "jars"));
    Files.createDirectories(dir);
    StandaloneCluster c = new StandaloneCluster(dir, freePort());
    Runtime.getRuntime().addShutdownHook(c.cleanup);
    try {
      int port = Integer.parseInt(c.masterUrl.substring(c.masterUrl.lastIndexOf(':') + 1));
      c.spawn("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port",
          Integer.toString(port), "--webui-port", Integer.toString(freePort()));
      c.awaitListening(port, Duration.ofSeconds(60));
      for (int w = 0; w < workers; w++) {
        Path work = dir.resolve("worker-" + w);
        Files.createDirectories(work);
        c.spawn("worker-" + w, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--cores",
            Integer.toString(cores), "--memory", memoryMb + "M", "--webui-port", Integer.toString(freePort()),
            "--work-dir", work.toString(), c.masterUrl);
      }
      return c;
    } catch (IOException | RuntimeException e) {
      c.close();
      throw e;
    }
  }

  /** The master URL, {@code spark://127.0.0.1:PORT}. */
  public String masterUrl() {
    return masterUrl;
  }

  /**
   * A driver's configuration for this cluster: executors of one core running this JVM's class path, DJL offline
   * with one thread, everything bound to 127.0.0.1.
   */
  public SparkConf conf(String appName, int executors, int executorMemoryMb) {
    return new SparkConf()
        .setMaster(masterUrl)
        .setAppName(appName)
        .set("spark.driver.host", "127.0.0.1")
        .set("spark.driver.bindAddress", "127.0.0.1")
        .set("spark.ui.enabled", "false")
        .set("spark.executor.cores", "1")
        .set("spark.cores.max", Integer.toString(executors))
        .set("spark.executor.memory", executorMemoryMb + "m")
        .set("spark.executor.extraClassPath", System.getProperty("java.class.path"))
        .set("spark.executor.extraJavaOptions", "-Dai.djl.offline=true -Dai.djl.default_engine=PyTorch"
            + " -Dai.djl.pytorch.num_threads=1")
        .set("spark.executorEnv.SPARK_LOCAL_IP", "127.0.0.1")
        .set("spark.scheduler.barrier.maxConcurrentTasksCheck.interval", "1s");
  }

  /** Every executor's stderr so far (the Workers keep them under their work folders), joined. */
  public String executorLogs() throws IOException {
    StringBuilder sb = new StringBuilder();
    try (Stream<Path> files = Files.walk(dir)) {
      for (Path p : files.filter(f -> f.getFileName().toString().equals("stderr")).sorted().toList()) {
        sb.append("==> ").append(dir.relativize(p)).append('\n').append(Files.readString(p)).append('\n');
      }
    }
    return sb.toString();
  }

  private void spawn(String name, String mainClass, String... args) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xmx256m");
    cmd.addAll(jvmFlags());
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), mainClass));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(dir.resolve(name + ".log").toFile());
    pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
    synchronized (processes) {
      processes.add(pb.start());
    }
  }

  /** This JVM's module and reflection flags (Spark's list, from the build), for a child JVM. */
  public static List<String> jvmFlags() {
    List<String> out = new ArrayList<>();
    for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if (a.startsWith("--add-") || a.startsWith("-XX:+IgnoreUnrecognizedVMOptions")
          || a.startsWith("-Djdk.reflect") || a.startsWith("-Dio.netty")) {
        out.add(a);
      }
    }
    return out;
  }

  private void awaitListening(int port, Duration timeout) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      try (Socket s = new Socket("127.0.0.1", port)) {
        return;
      } catch (IOException e) {
        if (System.nanoTime() > deadline) {
          throw new IOException("the master did not listen on " + port + " within " + timeout + "; see "
              + dir.resolve("master.log"), e);
        }
        synchronized (processes) {
          if (!processes.get(0).isAlive()) {
            throw new IOException("the master exited; see " + dir.resolve("master.log"));
          }
        }
        sleep(100);
      }
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  /** Kills every process of the cluster by pid: executors (the Workers' descendants) first, then the rest. */
  private void killAll() {
    List<ProcessHandle> all = new ArrayList<>();
    synchronized (processes) {
      for (Process p : processes) {
        p.toHandle().descendants().forEach(all::add);
      }
      for (Process p : processes) {
        all.add(p.toHandle());
      }
    }
    for (ProcessHandle h : all) {
      h.destroyForcibly(); // SIGKILL also ends a stopped (SIGSTOP) process
    }
    for (ProcessHandle h : all) {
      try {
        h.onExit().get(20, TimeUnit.SECONDS);
      } catch (Exception e) {
        // reported by the leftover check of the caller, if it matters
      }
    }
  }

  /** Whether {@code pid} is an executor JVM a Worker of this cluster started (and it still runs). */
  public boolean isExecutor(long pid) {
    synchronized (processes) {
      return processes.stream().skip(1).anyMatch(w -> w.toHandle().children()
          .anyMatch(h -> h.pid() == pid && h.isAlive()));
    }
  }

  /** The pids of the processes still alive (empty after {@link #close()}). */
  public List<Long> alivePids() {
    List<Long> pids = new ArrayList<>();
    synchronized (processes) {
      for (Process p : processes) {
        p.toHandle().descendants().filter(ProcessHandle::isAlive).forEach(h -> pids.add(h.pid()));
        if (p.isAlive()) {
          pids.add(p.pid());
        }
      }
    }
    return pids;
  }

  @Override
  public void close() {
    killAll();
    try {
      Runtime.getRuntime().removeShutdownHook(cleanup);
    } catch (IllegalStateException shuttingDown) {
      // the hook runs anyway
    }
  }

  /** A process's handle by pid, if it still runs. */
  public static Optional<ProcessHandle> process(long pid) {
    return ProcessHandle.of(pid).filter(ProcessHandle::isAlive);
  }
}
