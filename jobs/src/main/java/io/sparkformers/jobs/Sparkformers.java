package io.sparkformers.jobs;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.sparkformers.jobs.train.JobConfig;
import io.sparkformers.jobs.train.TrainJob;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.SparkSession;

/**
 * The train job as a library call, for notebooks and applications that hold their own {@link SparkSession}: the
 * same job file as {@code ./sparkformers train}, run on the caller's Spark, which it never stops, and never
 * exiting the JVM. Bad input is an {@link IllegalArgumentException} naming the key, file or column, raised before
 * any Spark job starts where the job file alone shows it.
 *
 * <pre>{@code
 * Sparkformers.TrainResult r = Sparkformers.train(spark, Files.readString(Path.of("job.yaml")),
 *     "num_train_epochs=1");
 * r.metrics().get("eval_accuracy");
 * }</pre>
 */
public final class Sparkformers {
  private Sparkformers() {}

  /**
   * What a train job produced: rank 0's final metrics, the output folder, the saved model folder (the model, or
   * the adapter of a peft job, with the tokenizer files), and the log history ({@code log_history.jsonl}; empty
   * when the output is not on the local file system).
   */
  public record TrainResult(Map<String, Double> metrics, String outputDir, String modelDir,
      List<Map<String, Object>> logHistory) {}

  /** Runs a job file's text ({@code key=value} overrides as {@code --set} takes them) on {@code spark}. */
  public static TrainResult train(SparkSession spark, String jobYaml, String... overrides) {
    return run(spark, JobConfig.parse(jobYaml, "job", List.of(overrides)));
  }

  /** Runs a job given as the job file's map (sections model, data, training_args, ...) on {@code spark}. */
  public static TrainResult train(SparkSession spark, Map<String, ?> job) {
    try {
      String yaml = new ObjectMapper(new YAMLFactory()).writeValueAsString(job);
      return run(spark, JobConfig.parse(yaml, "job", List.of()));
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalArgumentException("job: the map cannot be written as a job file: " + e.getMessage(), e);
    }
  }

  private static TrainResult run(SparkSession spark, JobConfig job) {
    try {
      Map<String, Double> metrics = TrainJob.run(job, spark);
      String out = job.trainingArguments().outputDir();
      return new TrainResult(metrics, out, out + "/model", logHistory(out));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @SuppressWarnings("unchecked")
  private static List<Map<String, Object>> logHistory(String outputDir) throws IOException {
    List<Map<String, Object>> out = new ArrayList<>();
    if (outputDir.contains("://")) {
      return out;
    }
    Path file = Path.of(outputDir, "log_history.jsonl");
    if (!Files.isRegularFile(file)) {
      return out;
    }
    ObjectMapper json = new ObjectMapper();
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      if (!line.isBlank()) {
        out.add(json.readValue(line, Map.class));
      }
    }
    return out;
  }
}
