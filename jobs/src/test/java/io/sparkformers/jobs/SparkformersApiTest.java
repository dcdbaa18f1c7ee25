package io.sparkformers.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The train job from a notebook's point of view: the caller's SparkSession, kept running, and a typed result. */
class SparkformersApiTest {
  static SparkSession spark;
  @TempDir Path tmp;

  @BeforeAll
  static void start() {
    // As a notebook makes it: a session of its own, no spark.master system property.
    spark = SparkSession.builder().master("local[2]").appName("notebook")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false").config("spark.scheduler.barrier.maxConcurrentTasksCheck.interval", "1s")
        .getOrCreate();
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  private static String quickstartYaml() throws Exception {
    try (InputStream in = QuickstartCommand.class.getResourceAsStream("quickstart.yaml")) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  @Test
  void trainsOnTheCallersSessionAndLeavesItRunning() throws Exception {
    Path out = tmp.resolve("qs");
    Sparkformers.TrainResult r = Sparkformers.train(spark, quickstartYaml(), "num_train_epochs=1",
        "training_args.output_dir=" + out, "disable_tqdm=true", "save_strategy=no", "eval_strategy=no",
        "load_best_model_at_end=false");
    assertEquals(23.0, r.metrics().get("global_step"), "1,437 rows, 32 per rank on 2 ranks: 23 steps");
    double accuracy = r.metrics().get("eval_accuracy");
    assertTrue(accuracy > 0.5 && accuracy <= 1.0, "accuracy " + accuracy);
    assertEquals(out.toString(), r.outputDir());
    assertTrue(Files.isRegularFile(Path.of(r.modelDir(), "model.safetensors")));
    assertTrue(r.logHistory().stream().anyMatch(e -> e.containsKey("train_loss")), r.logHistory().toString());
    assertFalse(spark.sparkContext().isStopped(), "the caller's session is still running");
    assertEquals(3, spark.range(3).count());
  }

  @Test
  void aBadKeyInAMapJobIsNamedAndTheSessionSurvives() {
    Map<String, Object> job = Map.of("model", Map.of("config", Map.of("model_type", "mlp", "input_size", 4,
        "hidden_sizes", java.util.List.of(4), "num_labels", 2)), "data", Map.of("train_file", "x.csv"),
        "training_args", Map.of("output_dir", tmp.toString(), "learning_rte", 0.1));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Sparkformers.train(spark, job));
    assertTrue(e.getMessage().contains("unknown key 'learning_rte'") && e.getMessage().contains("learning_rate"),
        e.getMessage());
    assertFalse(spark.sparkContext().isStopped());
  }
}
