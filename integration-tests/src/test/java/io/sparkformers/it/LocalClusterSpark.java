package io.sparkformers.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * Test support: Spark {@code local-cluster[N,cores,memory]}, whose executors are real, separate JVMs launched
 * by an in-process standalone worker. The recipe: SPARK_HOME points at a folder holding an empty
 * {@code jars/} (failsafe sets it to target/spark-home), SPARK_SCALA_VERSION is set, and executors get this
 * JVM's class path.
 */
public final class LocalClusterSpark {
  private LocalClusterSpark() {}

  public static SparkConf conf(int executors, int coresPerExecutor, int memoryMb, String appName) {
    String sparkHome = System.getenv("SPARK_HOME");
    if (sparkHome == null || System.getenv("SPARK_SCALA_VERSION") == null) {
      throw new IllegalStateException(
          "local-cluster needs SPARK_HOME and SPARK_SCALA_VERSION in the environment (set by failsafe)");
    }
    try {
      Files.createDirectories(Path.of(sparkHome, "jars"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return new SparkConf()
        .setMaster("local-cluster[" + executors + "," + coresPerExecutor + "," + memoryMb + "]")
        .setAppName(appName)
        .set("spark.driver.host", "127.0.0.1")
        .set("spark.driver.bindAddress", "127.0.0.1")
        .set("spark.ui.enabled", "false")
        .set("spark.executor.extraClassPath", System.getProperty("java.class.path"))
        .set("spark.executorEnv.SPARK_LOCAL_IP", "127.0.0.1")
        .set("spark.scheduler.barrier.maxConcurrentTasksCheck.interval", "1s");
  }

  /** Starts the cluster and waits until every executor has registered, so that barrier stages can start. */
  public static JavaSparkContext start(SparkConf conf, int executors, Duration timeout) {
    JavaSparkContext sc = new JavaSparkContext(conf);
    long deadline = System.nanoTime() + timeout.toNanos();
    // getExecutorInfos() lists the driver too.
    while (sc.sc().statusTracker().getExecutorInfos().length < executors + 1) {
      if (System.nanoTime() > deadline) {
        int seen = sc.sc().statusTracker().getExecutorInfos().length - 1;
        sc.stop();
        throw new IllegalStateException(executors + " executors did not register within " + timeout
            + " (" + seen + " did); see the executor logs under SPARK_HOME/work");
      }
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        sc.stop();
        throw new IllegalStateException("interrupted while waiting for executors", e);
      }
    }
    return sc;
  }
}
