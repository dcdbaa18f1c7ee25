package io.sparkformers.jobs.train;

import ai.djl.engine.Engine;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.sparkformers.accelerate.BarrierLauncher;
import io.sparkformers.accelerate.RankContext;
import io.sparkformers.accelerate.RankFunction;
import io.sparkformers.evaluate.Classification;
import io.sparkformers.evaluate.MetricResult;
import io.sparkformers.training.ArrayData;
import io.sparkformers.training.ComputeMetrics;
import io.sparkformers.training.EvalPrediction;
import io.sparkformers.training.Trainer;
import io.sparkformers.training.TrainingArguments;
import io.sparkformers.training.models.AutoConfig;
import io.sparkformers.training.models.AutoModel;
import io.sparkformers.training.models.PreTrainedModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * Runs a {@link JobConfig}: a barrier stage of {@code world_size} ranks on the configured (or the
 * surrounding spark-submit) Spark, each rank building the model, reading the dataset, training with the
 * Trainer and evaluating; rank 0 writes the model to {@code output_dir/model}, the checkpoints and
 * {@code output_dir/metrics.json}, and its metrics come back to the driver.
 */
public final class TrainJob {
  private TrainJob() {}

  /** Runs the job and returns rank 0's final metrics (train and eval). */
  public static Map<String, Double> run(JobConfig job) throws IOException {
    SparkConf conf = new SparkConf().setAppName("sparkformers train " + job.source());
    boolean local = !conf.contains("spark.master");
    if (local) {
      conf.setMaster(job.sparkMaster() != null ? job.sparkMaster() : "local[" + job.worldSize() + "]")
          .set("spark.driver.host", "127.0.0.1").set("spark.driver.bindAddress", "127.0.0.1")
          .set("spark.ui.enabled", "false")
          .set("spark.scheduler.barrier.maxConcurrentTasksCheck.interval", "1s");
    }
    JavaSparkContext sc = JavaSparkContext.fromSparkContext(org.apache.spark.SparkContext.getOrCreate(conf));
    try {
      return BarrierLauncher.run(sc, job.worldSize(), new Rank(job));
    } finally {
      // Stop only the Spark we started: under spark-submit or in a notebook the context is the caller's.
      if (local) {
        sc.stop();
      }
    }
  }

  /** Splits a table into train and test rows with a seeded shuffle (the same split on every rank). */
  static ArrayData[] split(NumericCsv.Table t, double testSize, long seed) {
    int n = t.rows();
    int[] order = new int[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    SplittableRandom rng = new SplittableRandom(seed);
    for (int i = n - 1; i > 0; i--) {
      int j = rng.nextInt(i + 1);
      int tmp = order[i];
      order[i] = order[j];
      order[j] = tmp;
    }
    int nTest = (int) Math.ceil(n * testSize);
    return new ArrayData[] {rows(t, order, nTest, n), rows(t, order, 0, nTest)};
  }

  static ArrayData rows(NumericCsv.Table t, int[] order, int from, int to) {
    int w = t.width();
    float[] f = new float[(to - from) * w];
    long[] l = new long[to - from];
    for (int i = from; i < to; i++) {
      System.arraycopy(t.features(), order[i] * w, f, (i - from) * w, w);
      l[i - from] = t.labels()[order[i]];
    }
    return ArrayData.builder().floats("features", f, w).longs("labels", l, 1).build();
  }

  static ArrayData all(NumericCsv.Table t) {
    return ArrayData.builder().floats("features", t.features(), t.width()).longs("labels", t.labels(), 1).build();
  }

  /** compute_metrics from the evaluate module's classification statistics. */
  static ComputeMetrics metrics(List<String> names) {
    return (EvalPrediction p) -> {
      Map<String, Double> out = new LinkedHashMap<>();
      long[] pred = p.argmax();
      long[] ref = p.labelIds();
      for (String average : List.of("macro", "weighted")) {
        Classification c = new Classification(Classification.Options.builder().average(average).build());
        Classification.Stats s = c.newState();
        for (int i = 0; i < pred.length; i++) {
          c.add(s, pred[i], ref[i]);
        }
        MetricResult r = c.compute(s);
        for (String name : names) {
          switch (name) {
            case "accuracy" -> out.put("accuracy", c.accuracy(s));
            case "f1_macro" -> { if (average.equals("macro")) { out.put(name, r.getDouble("f1")); } }
            case "precision_macro" -> { if (average.equals("macro")) { out.put(name, r.getDouble("precision")); } }
            case "recall_macro" -> { if (average.equals("macro")) { out.put(name, r.getDouble("recall")); } }
            case "f1_weighted" -> { if (average.equals("weighted")) { out.put(name, r.getDouble("f1")); } }
            default -> throw new IllegalArgumentException("unknown metric " + name);
          }
        }
      }
      return out;
    };
  }

  /** What each barrier task runs. */
  static final class Rank implements RankFunction<Map<String, Double>> {
    private static final long serialVersionUID = 1L;
    private final JobConfig job;

    Rank(JobConfig job) {
      this.job = job;
    }

    @Override
    public Map<String, Double> apply(RankContext ctx) throws Exception {
      TrainingArguments args = job.trainingArguments();
      NumericCsv.Table table = NumericCsv.read(job.trainFile(), job.header(), job.labelColumn(),
          job.featureColumns(), job.featureScale());
      ArrayData train;
      ArrayData eval;
      if (job.evalFile() != null) {
        train = all(table);
        eval = all(NumericCsv.read(job.evalFile(), job.header(), job.labelColumn(), job.featureColumns(),
            job.featureScale()));
      } else {
        ArrayData[] parts = split(table, job.testSize(), job.splitSeed());
        train = parts[0];
        eval = parts[1];
      }
      Engine.getInstance().setRandomSeed((int) args.seed());
      try (PreTrainedModel model = job.modelPath() != null ? AutoModel.fromPretrained(Path.of(job.modelPath()))
          : AutoModel.fromConfig(AutoConfig.fromJson(new ObjectMapper().writeValueAsString(job.modelConfig()),
              job.source() + ": model.config"))) {
        Trainer trainer = Trainer.builder(model, args).trainData(train).evalData(eval)
            .computeMetrics(job.metrics().isEmpty() ? null : metrics(job.metrics()))
            .processGroup(ctx.processGroup()).build();
        Map<String, Double> result = new LinkedHashMap<>(trainer.train());
        Map<String, Double> evalMetrics = trainer.evaluate();
        result.putAll(evalMetrics);
        result.put("all_reduce_share", trainer.allReduceShare());
        if (ctx.rank() == 0) {
          Path out = Path.of(args.outputDir());
          trainer.saveModel(out.resolve("model"));
          Files.createDirectories(out);
          new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
              .writeValue(out.resolve("metrics.json").toFile(), result);
        }
        return result;
      }
    }
  }
}
