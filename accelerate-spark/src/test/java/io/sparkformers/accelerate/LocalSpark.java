package io.sparkformers.accelerate;

import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;

/** Test support: an embedded Spark on {@code local[N]}, bound to the loopback address. */
final class LocalSpark {
  private LocalSpark() {}

  static SparkConf conf(int cores, String appName) {
    return new SparkConf()
        .setMaster("local[" + cores + "]")
        .setAppName(appName)
        .set("spark.driver.host", "127.0.0.1")
        .set("spark.driver.bindAddress", "127.0.0.1")
        .set("spark.ui.enabled", "false")
        .set("spark.scheduler.barrier.maxConcurrentTasksCheck.interval", "1s");
  }

  static JavaSparkContext start(int cores, String appName) {
    return new JavaSparkContext(conf(cores, appName));
  }
}
