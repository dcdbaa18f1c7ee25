package io.sparkformers.jobs.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A train job on Spark loads and splits its files on the executors: nothing the loader or the split makes lands
 * in data.cache_dir (which the driver would have to read back, and which on a cluster without shared storage it
 * cannot see), and the loaded rows are unpersisted from the executors when the data is prepared.
 */
class ExecutorLoadTest {
  static SparkSession spark;

  @TempDir Path tmp;

  @BeforeAll
  static void startSpark() {
    spark = SparkSession.builder().master("local[2]").appName("executor-load")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.scheduler.barrier.maxConcurrentTasksCheck.interval", "1s")
        // The serializer the shipped spark-defaults.conf sets: the split and the job's shuffles move rows with it.
        .config("spark.serializer", "org.apache.spark.serializer.KryoSerializer").getOrCreate();
  }

  @AfterAll
  static void stopSpark() {
    spark.stop();
  }

  @Test
  void aSplitTrainJobLeavesNoLoadedOrFlattenedCopyInTheCacheFolder() throws IOException {
    StringBuilder csv = new StringBuilder("a,b,species\n");
    String[] species = {"setosa", "versicolor", "virginica"};
    for (int i = 0; i < 120; i++) {
      csv.append(i % 5).append(',').append(i * 0.5).append(',').append(species[i % 3]).append('\n');
    }
    Path file = tmp.resolve("train.csv");
    Files.writeString(file, csv);
    Path cache = tmp.resolve("cache");
    Files.createDirectories(cache);
    String yaml = String.join("\n", "model:", "  config: " + SparkRowsTest.MLP, "data:", "  train_file: " + file,
        "  label_column: species", "  test_size: 0.25",
        "training_args: {output_dir: out, per_device_train_batch_size: 8, disable_tqdm: true, seed: 3,"
            + " num_train_epochs: 1}",
        "world_size: 2", "");
    Map<String, Double> result = TrainJob.run(JobConfig.parse(yaml, "job.yaml", List.of("data.use_spark=true",
        "data.cache_dir=" + cache, "training_args.output_dir=" + tmp.resolve("out"))), spark);
    // train_test_split(test_size=0.25) of 120 rows: 90 to train on, 30 held out.
    assertEquals(90.0, result.get("train_rows"));
    assertEquals(30.0, result.get("eval_rows"));
    assertTrue(Double.isFinite(result.get("eval_loss")), result.toString());
    List<Path> left = new ArrayList<>();
    try (Stream<Path> all = Files.walk(cache)) {
      // Prepared shards that a run may keep for the next one live under prepared/; the loader's copies would not.
      all.filter(p -> !p.equals(cache) && !cache.relativize(p).startsWith("prepared")).forEach(left::add);
    }
    assertEquals(List.of(), left, "what the load and the split left in data.cache_dir");
    assertTrue(JavaSparkContext.fromSparkContext(spark.sparkContext()).getPersistentRDDs().values().stream()
        .noneMatch(rdd -> rdd.name() != null && rdd.name().startsWith("sparkformers rows of")),
        "the loaded rows are unpersisted");
  }
}
