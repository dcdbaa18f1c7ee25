package io.sparkformers.jobs.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkformers.evaluate.Classification;
import io.sparkformers.evaluate.ClassificationScores;
import io.sparkformers.evaluate.Metrics;
import io.sparkformers.training.BatchMetrics;
import io.sparkformers.training.EvalPrediction;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.function.Supplier;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The train job's own compute_metrics accumulate batch by batch (batch_eval_metrics, on by default in the job)
 * and give exactly the numbers of the evaluate module's one-shot computation over every row: classification
 * scores (tested against scikit-learn in the evaluate module) and perplexity. A job evaluated either way reports
 * the same metrics, bit for bit.
 */
class TrainJobMetricsTest {
  static SparkSession spark;

  @TempDir Path tmp;

  @BeforeAll
  static void startSpark() {
    spark = SparkSession.builder().master("local[2]").appName("train-job-metrics")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.scheduler.barrier.maxConcurrentTasksCheck.interval", "1s").getOrCreate();
  }

  @AfterAll
  static void stopSpark() {
    spark.stop();
  }

  /** Feeds {@code all} to a fresh accumulator in consecutive batches of the given sizes (cycled). */
  static Map<String, Double> inBatches(Supplier<BatchMetrics> metrics, EvalPrediction all, int... sizes) {
    BatchMetrics m = metrics.get();
    int n = all.predictions().length;
    for (int first = 0, k = 0; first < n; k++) {
      int end = Math.min(n, first + sizes[k % sizes.length]);
      m.update(new EvalPrediction(Arrays.copyOfRange(all.predictions(), first, end),
          Arrays.copyOfRange(all.labels(), first, end)));
      first = end;
    }
    return m.compute();
  }

  @Test
  void classificationScoresByBatchEqualTheOneShotScoresBitForBit() {
    SplittableRandom rng = new SplittableRandom(11);
    int n = 203;
    float[][] logits = new float[n][];
    long[][] labels = new long[n][];
    for (int i = 0; i < n; i++) {
      // 4 classes, class 3 never predicted (its precision is ill-defined: zero_division) and skewed labels.
      logits[i] = new float[] {(float) rng.nextGaussian(), (float) rng.nextGaussian(), (float) rng.nextGaussian(),
          -100f};
      labels[i] = new long[] {rng.nextInt(10) < 6 ? 0 : rng.nextInt(4)};
    }
    EvalPrediction all = new EvalPrediction(logits, labels);
    List<String> names = List.of("accuracy", "f1_macro", "precision_macro", "recall_macro", "f1_weighted");
    // What the job computed before it accumulated: scikit-learn's scores over every row at once.
    List<Long> pred = Arrays.stream(all.argmax()).boxed().toList();
    List<Long> ref = Arrays.stream(all.labelIds()).boxed().toList();
    ClassificationScores macro = Metrics.classification(pred, ref,
        Classification.Options.builder().average("macro").build());
    ClassificationScores weighted = Metrics.classification(pred, ref,
        Classification.Options.builder().average("weighted").build());
    Map<String, Double> expected = new LinkedHashMap<>();
    expected.put("accuracy", macro.accuracy());
    expected.put("f1_macro", macro.f1());
    expected.put("precision_macro", macro.precision());
    expected.put("recall_macro", macro.recall());
    expected.put("f1_weighted", weighted.f1());
    assertTrue(macro.f1() > 0 && macro.f1() < 1 && weighted.f1() != macro.f1(), expected.toString());
    Supplier<BatchMetrics> metrics = TrainJob.metrics(names);
    // Map equality compares the doubles bit for bit.
    assertEquals(expected, inBatches(metrics, all, n));
    assertEquals(expected, inBatches(metrics, all, 16));
    assertEquals(expected, inBatches(metrics, all, 1, 7, 30));
    assertEquals(List.of("accuracy"), List.copyOf(inBatches(TrainJob.metrics(List.of("accuracy")), all, 5)
        .keySet()));
  }

  @Test
  void perplexityByBatchEqualsTheOneShotPerplexityBitForBit() {
    SplittableRandom rng = new SplittableRandom(5);
    int n = 61;
    float[][] ll = new float[n][];
    List<double[]> kept = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      ll[i] = new float[15];
      List<Double> row = new ArrayList<>();
      for (int t = 0; t < 15; t++) {
        // NaN marks a label of -100 (padding, or a prompt's tokens in sft); a row may hold nothing else.
        boolean ignored = i % 9 == 0 || (i % 4 == 0 && t < 5);
        ll[i][t] = ignored ? Float.NaN : (float) -(rng.nextDouble() * 6);
        if (!ignored) {
          row.add((double) ll[i][t]);
        }
      }
      if (!row.isEmpty()) {
        kept.add(row.stream().mapToDouble(Double::doubleValue).toArray());
      }
    }
    // The evaluate module's perplexity of every scored sequence, in row order: what the job computed before.
    Map<String, Double> expected = Map.of("perplexity", Metrics.perplexity(kept).perplexity());
    EvalPrediction all = new EvalPrediction(ll, new long[n][0]);
    assertEquals(expected, inBatches(TrainJob.perplexity(), all, n));
    assertEquals(expected, inBatches(TrainJob.perplexity(), all, 8));
    assertEquals(expected, inBatches(TrainJob.perplexity(), all, 3, 1, 11));
  }

  /** The metrics of a job run that do not depend on timing. */
  static Map<String, Double> untimed(Map<String, Double> run) {
    Map<String, Double> out = new TreeMap<>();
    run.forEach((k, v) -> {
      if (!(k.contains("runtime") || k.contains("per_second") || k.contains("seconds") || k.endsWith("_share"))) {
        out.put(k, v);
      }
    });
    return out;
  }

  /** Runs {@code yaml} with batch_eval_metrics as the job's default (on) and off: the same metrics. */
  private Map<String, Double> sameWithAndWithout(String yaml, String... expectedKeys) throws Exception {
    JobConfig byBatch = JobConfig.parse(yaml, "job.yaml", List.of("training_args.output_dir=" + tmp.resolve("a")));
    JobConfig kept = JobConfig.parse(yaml, "job.yaml", List.of("training_args.output_dir=" + tmp.resolve("b"),
        "training_args.batch_eval_metrics=false"));
    assertTrue(TrainJob.trainingArguments(byBatch).batchEvalMetrics(), "the job's default");
    assertFalse(TrainJob.trainingArguments(kept).batchEvalMetrics(), "training_args decides when it sets it");
    Map<String, Double> a = untimed(TrainJob.run(byBatch, spark));
    Map<String, Double> b = untimed(TrainJob.run(kept, spark));
    for (String k : expectedKeys) {
      assertTrue(a.containsKey(k) && Double.isFinite(a.get(k)), k + " in " + a);
    }
    assertEquals(b, a);
    return a;
  }

  @Test
  void aClassificationJobReportsTheSameMetricsWithAndWithoutBatchEvalMetrics() throws Exception {
    StringBuilder csv = new StringBuilder("a,b,species\n");
    String[] species = {"setosa", "versicolor", "virginica"};
    for (int i = 0; i < 203; i++) {
      csv.append(i % 7).append(',').append(i * 0.25).append(',').append(species[i % 3]).append('\n');
    }
    Path data = tmp.resolve("tabular.csv");
    Files.writeString(data, csv);
    String yaml = String.join("\n", "model:", "  config: " + PreparedCacheTest.MLP, "data:", "  train_file: " + data,
        "  label_column: species", "  feature_columns: [a, b]", "  feature_scale: 0.5",
        "metrics: [accuracy, f1_macro, precision_macro, recall_macro, f1_weighted]",
        "training_args: {output_dir: out, per_device_train_batch_size: 8, per_device_eval_batch_size: 3,"
            + " disable_tqdm: true, seed: 3, num_train_epochs: 1}",
        "world_size: 2", "");
    Map<String, Double> m = sameWithAndWithout(yaml, "eval_loss", "eval_accuracy", "eval_f1_macro",
        "eval_precision_macro", "eval_recall_macro", "eval_f1_weighted");
    assertEquals(41.0, m.get("eval_rows"));
  }

  @Test
  void anSftJobReportsTheSamePerplexityWithAndWithoutBatchEvalMetrics() throws Exception {
    Path tok = SftTest.tokenizerFolder(tmp.resolve("tok"), SftTest.PLAIN_TEMPLATE);
    // Answers of 1 to 4 words after prompts of 1 to 3: rows of many lengths, so that each row scores another
    // number of tokens (the rest is padding or prompt, -100).
    String[] words = {"hello", "there", "fine", "thanks"};
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < 60; i++) {
      String user = String.join(" ", java.util.Collections.nCopies(1 + i % 3, "hi"));
      String answer = String.join(" ", Arrays.asList(words).subList(0, 1 + (i * 7) % 4));
      s.append("{\"messages\": [{\"role\": \"user\", \"content\": \"").append(user)
          .append("\"}, {\"role\": \"assistant\", \"content\": \"").append(answer).append("\"}]}\n");
    }
    Path train = tmp.resolve("chat.jsonl");
    Files.writeString(train, s);
    String yaml = String.join("\n", "task: sft", "model: {config: " + SftTest.LLAMA + "}", "data:",
        "  train_file: " + train, "  tokenizer: " + tok, "  assistant_only_loss: true", "metrics: [perplexity]",
        "training_args: {output_dir: out, per_device_train_batch_size: 4, per_device_eval_batch_size: 5,"
            + " disable_tqdm: true, seed: 7, num_train_epochs: 1}",
        "world_size: 2", "");
    Map<String, Double> m = sameWithAndWithout(yaml, "eval_loss", "eval_perplexity");
    assertTrue(m.get("eval_perplexity") > 1, m.toString());
  }
}
