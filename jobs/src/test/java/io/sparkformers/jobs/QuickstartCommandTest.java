package io.sparkformers.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The quickstart job, one epoch: two data-parallel ranks on embedded local[2] Spark. */
class QuickstartCommandTest {

  @TempDir Path tmp;

  @Test
  void theJarCarriesConfQuickstartYaml() throws IOException {
    Path conf = Path.of(System.getProperty("sparkformers.root", ".."), "conf", "quickstart.yaml");
    if (!Files.exists(conf)) {
      conf = Path.of("..", "conf", "quickstart.yaml");
    }
    try (InputStream in = QuickstartCommand.class.getResourceAsStream("quickstart.yaml")) {
      assertEquals(Files.readString(conf), new String(in.readAllBytes(), StandardCharsets.UTF_8));
    }
  }

  @Test
  void oneEpochTrainsEvaluatesAndWritesModelCheckpointsAndMetrics() throws Exception {
    Path out = tmp.resolve("qs");
    int code = SparkformersCommand.commandLine().execute("quickstart", "--output", out.toString(),
        "--set", "num_train_epochs=1", "--set", "disable_tqdm=true");
    assertEquals(0, code);
    @SuppressWarnings("unchecked")
    Map<String, Object> metrics = new ObjectMapper().readValue(out.resolve("metrics.json").toFile(), Map.class);
    // 1,437 training rows, 32 per rank on 2 ranks: 45 batches dealt in 23 rounds (the last evened out).
    assertEquals(23.0, ((Number) metrics.get("global_step")).doubleValue());
    double accuracy = ((Number) metrics.get("eval_accuracy")).doubleValue();
    assertTrue(accuracy > 0.5 && accuracy <= 1.0, "accuracy " + accuracy);
    assertTrue(Files.isRegularFile(out.resolve("model/model.safetensors")));
    assertTrue(Files.isRegularFile(out.resolve("model/config.json")));
    assertTrue(Files.isRegularFile(out.resolve("checkpoint-23/trainer_state.json")));
    assertTrue(Files.isRegularFile(out.resolve("checkpoint-23/rng_state_1.json")));
    assertTrue(Files.readString(out.resolve("log_history.jsonl")).contains("\"eval_accuracy\""));
  }

  @Test
  void twoRanksInOneJvmGiveTheSameWeightsOnEveryRun() throws Exception {
    // Ranks of local[2] are threads sharing libtorch's one generator: the seed alone must fix the result.
    List<String> checksums = new ArrayList<>();
    for (int run = 0; run < 3; run++) {
      Path out = tmp.resolve("run" + run);
      int code = SparkformersCommand.commandLine().execute("quickstart", "--output", out.toString(),
          "--set", "num_train_epochs=2", "--set", "save_strategy=no", "--set", "eval_strategy=no",
          "--set", "load_best_model_at_end=false", "--set", "disable_tqdm=true");
      assertEquals(0, code);
      byte[] weights = Files.readAllBytes(out.resolve("model/model.safetensors"));
      checksums.add(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(weights)));
    }
    assertEquals(List.of(checksums.get(0), checksums.get(0), checksums.get(0)), checksums);
  }

  @Test
  void aSparkContextTheCallerStartedIsStillRunningAfterTheJob() throws Exception {
    // Under spark-submit or in a notebook spark.master is set and the context belongs to the caller.
    System.setProperty("spark.master", "local[2]");
    org.apache.spark.SparkContext sc = null;
    try {
      sc = org.apache.spark.SparkContext.getOrCreate(new org.apache.spark.SparkConf().setAppName("caller")
          .set("spark.driver.host", "127.0.0.1").set("spark.driver.bindAddress", "127.0.0.1")
          .set("spark.ui.enabled", "false").set("spark.scheduler.barrier.maxConcurrentTasksCheck.interval", "1s"));
      int code = SparkformersCommand.commandLine().execute("quickstart", "--output", tmp.resolve("nb").toString(),
          "--set", "num_train_epochs=1", "--set", "disable_tqdm=true");
      assertEquals(0, code);
      assertTrue(!sc.isStopped(), "the job stopped the caller's SparkContext");
      assertEquals(3L, sc.parallelize(scala.collection.JavaConverters.asScalaBufferConverter(java.util.List.of(1, 2, 3)).asScala().toSeq(),
          2, scala.reflect.ClassTag$.MODULE$.apply(Integer.class)).count());
    } finally {
      System.clearProperty("spark.master");
      if (sc != null) {
        sc.stop();
      }
    }
  }

  @Test
  void aBadOverrideIsAUsageErrorNamingTheKey() {
    java.io.StringWriter err = new java.io.StringWriter();
    picocli.CommandLine cli = SparkformersCommand.commandLine();
    cli.setErr(new java.io.PrintWriter(err));
    int code = cli.execute("quickstart", "--set", "num_train_epoch=1");
    assertEquals(ExitCodes.USAGE, code);
    String message = err.toString();
    assertTrue(message.startsWith("sparkformers quickstart: "), message);
    assertTrue(message.contains("num_train_epoch") && message.contains("num_train_epochs"), message);
    // The message alone: no stack trace burying it.
    assertFalse(message.contains("\tat "), message);
  }
}
