package io.sparkformers.it.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import io.sparkformers.it.S3ProxyServer;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shaded {@code sparkformers-jobs-*-spark.jar} through Spark's real submit path: a child JVM runs
 * {@code org.apache.spark.deploy.SparkSubmit} (the class bin/spark-submit execs) with only Spark's jars on its
 * class path, {@code --master local-cluster[2,1,1024]} (two executor JVMs) and {@code --class
 * io.sparkformers.jobs.SparkformersCommand train --config ...}; the jar must carry sparkformers and DJL itself.
 * The job reads its training file through {@code s3a://} (a glob) from an s3proxy child process.
 */
class SparkSubmitIT {
  @TempDir Path tmp;

  /** The test class path without sparkformers, DJL and picocli: what a Spark installation's jars/ provides. */
  static String sparkClassPath() {
    List<String> keep = new ArrayList<>();
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      String e = entry.replace('\\', '/');
      String name = e.substring(e.lastIndexOf('/') + 1);
      // Build output folders: target/classes, or target/spark3.5/classes under the Spark 3.5 profile. Test
      // classes must stay out too: their service files name classes the application class loader cannot link.
      boolean ours = name.startsWith("sparkformers-") || e.matches(".*/target/(.+/)?(test-)?classes/?")
          || e.contains("/ai/djl/") || e.contains("/info/picocli/");
      if (!ours) {
        keep.add(entry);
      }
    }
    return String.join(File.pathSeparator, keep);
  }

  /** This JVM's module and reflection flags (Spark's list, from the build), for the child JVM. */
  static List<String> jvmFlags() {
    List<String> out = new ArrayList<>();
    for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if (a.startsWith("--add-") || a.startsWith("-XX:+IgnoreUnrecognizedVMOptions")
          || a.startsWith("-Djdk.reflect") || a.startsWith("-Dio.netty") || a.startsWith("-Dlog4j2.")) {
        out.add(a);
      }
    }
    return out;
  }

  @Test
  void trainFromAConfigUnderSparkSubmitOnALocalCluster() throws Exception {
    Path jar = Path.of(System.getProperty("sparkformers.jobs.jar", "missing"));
    assertTrue(Files.isRegularFile(jar), "the shaded jobs jar " + jar + " (failsafe copies it in"
        + " pre-integration-test)");
    Files.createDirectories(Path.of(System.getenv("SPARK_HOME"), "jars"));

    StringBuilder csv = new StringBuilder("x1,x2,kind\n");
    for (int i = 0; i < 40; i++) {
      int k = i % 2;
      csv.append(k * 2 + i * 0.01).append(',').append(1 - k).append(',').append(k == 0 ? "even" : "odd")
          .append('\n');
    }
    Path data = tmp.resolve("train/rows.csv");
    Files.createDirectories(data.getParent());
    Files.writeString(data, csv);
    if ("false".equals(System.getProperty("sparkformers.it.s3"))) {
      // The Spark 3.5 run: its Hadoop 3.3 has no S3A client here (AWS SDK v1 is left out): a local glob instead.
      submit(data.getParent() + "/*.csv", "    {}\n");
      return;
    }
    // The training file is read through s3a:// from a real S3-compatible server, as a glob.
    try (S3ProxyServer s3 = S3ProxyServer.start(tmp.resolve("s3"))) {
      s3.createBucket("data");
      Configuration hadoop = new Configuration();
      s3.hadoopConfiguration().forEach(hadoop::set);
      try (FileSystem fs = FileSystem.newInstance(java.net.URI.create("s3a://data/"), hadoop)) {
        fs.copyFromLocalFile(new org.apache.hadoop.fs.Path(data.toUri()),
            new org.apache.hadoop.fs.Path("s3a://data/train/rows.csv"));
      }
      StringBuilder hadoopYaml = new StringBuilder();
      s3.hadoopConfiguration().forEach((k, v) -> hadoopYaml.append("    \"").append(k).append("\": \"").append(v)
          .append("\"\n"));
      submit("s3a://data/train/*.csv", hadoopYaml.toString());
    }
  }

  @SuppressWarnings("unchecked")
  private void submit(String trainFile, String hadoopYaml) throws Exception {
    Path jar = Path.of(System.getProperty("sparkformers.jobs.jar", "missing"));
    Path out = tmp.resolve("out");
    Path config = tmp.resolve("job.yaml");
    Files.writeString(config, String.join("\n",
        "task: tabular_classification",
        "spark_master: local[7]          # must be ignored: spark-submit sets the master",
        "world_size: 2",
        "model:",
        "  config: {model_type: mlp, input_size: 2, hidden_sizes: [8], num_labels: 2}",
        "data:",
        "  train_file: " + trainFile,
        "  label_column: kind",
        "  test_size: 0.25",
        "  cache_dir: " + tmp.resolve("cache"),
        "  hadoop:",
        hadoopYaml,
        "metrics: [accuracy, f1_macro]",
        "training_args:",
        "  output_dir: " + out,
        "  num_train_epochs: 2",
        "  per_device_train_batch_size: 5",
        "  learning_rate: 0.05",
        "  save_strategy: epoch",
        "  disable_tqdm: true",
        ""));

    String sparkCp = sparkClassPath();
    String djlCache = System.getenv().getOrDefault("DJL_CACHE_DIR", tmp.resolve("djl").toString());
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xmx1g");
    cmd.addAll(jvmFlags());
    cmd.addAll(List.of("-cp", sparkCp, "org.apache.spark.deploy.SparkSubmit",
        "--master", "local-cluster[2,1,1024]",
        "--class", "io.sparkformers.jobs.SparkformersCommand",
        "--conf", "spark.driver.host=127.0.0.1",
        "--conf", "spark.driver.bindAddress=127.0.0.1",
        "--conf", "spark.ui.enabled=false",
        "--conf", "spark.executor.extraClassPath=" + sparkCp,
        "--conf", "spark.executor.extraJavaOptions=-Dai.djl.offline=true -Dai.djl.default_engine=PyTorch"
            + " -Dai.djl.pytorch.num_threads=1",
        "--conf", "spark.executorEnv.SPARK_LOCAL_IP=127.0.0.1",
        "--conf", "spark.executorEnv.DJL_CACHE_DIR=" + djlCache,
        "--conf", "spark.scheduler.barrier.maxConcurrentTasksCheck.interval=1s",
        jar.toString(),
        "train", "--config", config.toString(), "--set", "seed=7"));
    // The child's output stays in target/ for a look after a failure.
    Path logFile = Path.of("target", "SparkSubmitIT.log").toAbsolutePath();
    Files.createDirectories(logFile.getParent());
    Files.write(logFile.resolveSibling("SparkSubmitIT.cmd"), cmd);
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(logFile.toFile());
    pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
    pb.environment().put("DJL_CACHE_DIR", djlCache);
    Process p = pb.start();
    boolean done = p.waitFor(240, TimeUnit.SECONDS);
    if (!done) {
      p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    String log = Files.readString(logFile);
    String tail = log.substring(Math.max(0, log.length() - 6000));
    assertTrue(done, "spark-submit did not finish within 240 s (" + logFile + "):\n" + tail);
    assertEquals(0, p.exitValue(), "spark-submit failed (" + logFile + "):\n" + tail);

    Map<String, Object> m = new ObjectMapper().readValue(out.resolve("metrics.json").toFile(), Map.class);
    // 40 rows, 10 held out; 30 rows in batches of 5 on 2 ranks: 6 batches, 3 rounds an epoch, 2 epochs.
    assertEquals(30.0, ((Number) m.get("train_rows")).doubleValue());
    assertEquals(10.0, ((Number) m.get("eval_rows")).doubleValue());
    assertEquals(6.0, ((Number) m.get("global_step")).doubleValue());
    double accuracy = ((Number) m.get("eval_accuracy")).doubleValue();
    assertEquals(0, accuracy * 10 % 1, 1e-9, "accuracy is a count of 10: " + accuracy);
    assertTrue(m.containsKey("eval_f1_macro"), m.keySet().toString());
    assertTrue(Files.isRegularFile(out.resolve("model/model.safetensors")));
    assertTrue(Files.isRegularFile(out.resolve("checkpoint-6/trainer_state.json")));
  }
}
