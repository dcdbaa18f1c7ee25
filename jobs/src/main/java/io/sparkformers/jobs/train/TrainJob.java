package io.sparkformers.jobs.train;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.sparkformers.accelerate.BarrierLauncher;
import io.sparkformers.accelerate.DeviceSelection;
import io.sparkformers.accelerate.RankContext;
import io.sparkformers.accelerate.RankFunction;
import io.sparkformers.datasets.AutoTokenizer;
import io.sparkformers.datasets.TokenizerFiles;
import io.sparkformers.evaluate.Classification;
import io.sparkformers.evaluate.ClassificationScores;
import io.sparkformers.evaluate.Metrics;
import io.sparkformers.evaluate.Perplexity;
import io.sparkformers.training.ComputeMetrics;
import io.sparkformers.training.DriverLogListener;
import io.sparkformers.training.EvalPrediction;
import io.sparkformers.training.PreprocessLogits;
import io.sparkformers.training.Trainer;
import io.sparkformers.training.TrainingArguments;
import io.sparkformers.training.models.AutoConfig;
import io.sparkformers.training.peft.PeftModel;
import io.sparkformers.training.models.AutoModel;
import io.sparkformers.training.models.FromPretrainedOptions;
import io.sparkformers.training.models.ModelConfig;
import io.sparkformers.training.models.PreTrainedModel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

/**
 * Runs a {@link JobConfig}: the driver prepares the data (datasets-arrow loaders and tokenizers, on Spark), then
 * a barrier stage of {@code world_size} ranks on the configured (or the surrounding spark-submit) Spark, each
 * rank building the model, training with the Trainer and evaluating; rank 0 writes the model to
 * {@code output_dir/model}, the checkpoints and {@code output_dir/metrics.json}, and its metrics come back to
 * the driver.
 */
public final class TrainJob {
  private TrainJob() {}

  /** Runs the job and returns rank 0's final metrics (train and eval). */
  public static Map<String, Double> run(JobConfig job) throws IOException {
    Preflight.beforeLaunch(job, new SparkConf());
    ModelConfig modelConfig = modelConfig(job);
    JobConfig.Task task = taskOf(job, modelConfig);
    SparkConf conf = new SparkConf().setAppName("sparkformers train " + job.source())
        // Executor JVMs: libtorch's OpenMP threads spin briefly before sleeping between operators, as
        // ./sparkformers sets for this JVM (see there); an executorEnv the user gives wins.
        .setIfMissing("spark.executorEnv.GOMP_SPINCOUNT", "10000");
    boolean local = !conf.contains("spark.master");
    if (local) {
      conf.setMaster(job.sparkMaster() != null ? job.sparkMaster() : "local[" + job.worldSize() + "]")
          .set("spark.driver.host", "127.0.0.1").set("spark.driver.bindAddress", "127.0.0.1")
          .set("spark.ui.enabled", "false")
          .set("spark.scheduler.barrier.maxConcurrentTasksCheck.interval", "1s");
    }
    SparkSession spark = SparkSession.builder().config(conf).getOrCreate();
    try {
      return runOn(job, modelConfig, task, spark);
    } finally {
      // Stop only the Spark we started: under spark-submit or in a notebook the context is the caller's.
      if (local) {
        spark.stop();
      }
    }
  }

  /**
   * Runs the job on the caller's Spark (a notebook's or an application's session), which it never stops;
   * {@code spark_master} in the job file is ignored. Returns rank 0's final metrics.
   */
  public static Map<String, Double> run(JobConfig job, SparkSession spark) throws IOException {
    Preflight.beforeLaunch(job, spark.sparkContext().getConf());
    ModelConfig modelConfig = modelConfig(job);
    return runOn(job, modelConfig, taskOf(job, modelConfig), spark);
  }

  private static JobConfig.Task taskOf(JobConfig job, ModelConfig modelConfig) {
    JobConfig.Task task = job.task() != null ? job.task() : JobConfig.taskOf(modelConfig.modelType());
    JobData.checkModel(task, modelConfig, job.source());
    job.checkMetrics(task);
    return task;
  }

  private static Map<String, Double> runOn(JobConfig job, ModelConfig modelConfig, JobConfig.Task task,
      SparkSession spark) throws IOException {
    JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    JobData.Prepared data = JobData.prepare(job, task, modelConfig, spark);
    // Rank 0's progress and log lines come back to this driver, wherever the ranks run; disable_tqdm drops the
    // bar but keeps the log lines.
    boolean bar = !job.trainingArguments().disableTqdm();
    try (DriverLogListener logs = DriverLogListener.open(sc, job.worldSize(), bar ? System.err : null,
        bar ? List.of() : List.of(new io.sparkformers.training.LogPrinter(System.err)))) {
      // The process_group section, ddp_backend and ddp_timeout reach every rank's process group.
      return BarrierLauncher.run(sc, job.worldSize(), job.processGroupOptions(), new Rank(job, task, data));
    }
  }

  /** The model's config: model.config, or the model folder's config.json. */
  static ModelConfig modelConfig(JobConfig job) throws IOException {
    if (job.modelPath() != null) {
      Path folder = Path.of(job.modelPath());
      if (!Files.isRegularFile(folder.resolve("config.json"))) {
        throw new IllegalArgumentException(job.source() + ": key 'model.path': " + folder
            + " has no config.json (a Hugging Face model folder holds config.json and model.safetensors)");
      }
      return AutoConfig.fromPretrained(folder);
    }
    return AutoConfig.fromJson(new ObjectMapper().writeValueAsString(job.modelConfig()), job.source()
        + ": model.config");
  }

  /** compute_metrics from the evaluate module's classification statistics. */
  static ComputeMetrics metrics(List<String> names) {
    return (EvalPrediction p) -> {
      Map<String, Double> out = new LinkedHashMap<>();
      List<Long> pred = Arrays.stream(p.argmax()).boxed().toList();
      List<Long> ref = Arrays.stream(p.labelIds()).boxed().toList();
      for (String average : List.of("macro", "weighted")) {
        ClassificationScores r = Metrics.classification(pred, ref,
            Classification.Options.builder().average(average).build());
        for (String name : names) {
          switch (name) {
            case "accuracy" -> out.put("accuracy", r.accuracy());
            case "f1_macro" -> { if (average.equals("macro")) { out.put(name, r.f1()); } }
            case "precision_macro" -> { if (average.equals("macro")) { out.put(name, r.precision()); } }
            case "recall_macro" -> { if (average.equals("macro")) { out.put(name, r.recall()); } }
            case "f1_weighted" -> { if (average.equals("weighted")) { out.put(name, r.f1()); } }
            default -> throw new IllegalArgumentException("unknown metric " + name);
          }
        }
      }
      return out;
    };
  }

  /**
   * preprocess_logits_for_metrics of a causal LM: each position's log-likelihood of the next label (the
   * logits at t score the label at t+1, as the loss shifts them), log-softmax in float64, NaN where that label
   * is -100. Evaluation then keeps [rows, seq-1] numbers instead of [rows, seq, vocab] logits.
   */
  static PreprocessLogits nextTokenLogLikelihoods() {
    return (logits, labels) -> {
      NDArray logProbs = logits.get(":, :-1, :").toType(DataType.FLOAT64, false).logSoftmax(-1);
      NDArray next = labels.get(":, 1:").toType(DataType.INT64, false);
      NDArray ignored = next.eq(-100);
      NDArray safe = next.mul(ignored.logicalNot().toType(DataType.INT64, false));
      // At most 0: rounding can push a certain token a hair above.
      NDArray picked = logProbs.gather(safe.expandDims(2), 2).squeeze(2).minimum(0.0);
      NDArray nan = picked.getManager().full(picked.getShape(), Float.NaN, DataType.FLOAT64);
      return NDArrays.where(ignored, nan, picked);
    };
  }

  /**
   * compute_metrics of a causal LM over what {@link #nextTokenLogLikelihoods()} kept: the evaluate module's
   * perplexity over every predicted token (NaN marks the skipped ones).
   */
  static ComputeMetrics perplexity() {
    return (EvalPrediction p) -> {
      Perplexity metric = new Perplexity();
      Perplexity.Stats stats = metric.newState();
      for (float[] row : p.predictions()) {
        double[] ll = new double[row.length];
        int count = 0;
        for (float v : row) {
          if (!Float.isNaN(v)) {
            ll[count++] = v;
          }
        }
        if (count > 0) {
          metric.add(stats, java.util.Arrays.copyOf(ll, count));
        }
      }
      return Map.of("perplexity", metric.compute(stats).getDouble("perplexity"));
    };
  }

  /**
   * Records string class names in a saved config.json as run_glue does ({@code id2label}, {@code label2id}), so
   * that predictions map back to the dataset's labels.
   */
  static void writeLabelNames(Path configJson, List<String> names) throws IOException {
    ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    com.fasterxml.jackson.databind.node.ObjectNode config =
        (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(configJson.toFile());
    com.fasterxml.jackson.databind.node.ObjectNode id2label = config.putObject("id2label");
    com.fasterxml.jackson.databind.node.ObjectNode label2id = config.putObject("label2id");
    for (int i = 0; i < names.size(); i++) {
      id2label.put(Integer.toString(i), names.get(i));
      label2id.put(names.get(i), i);
    }
    json.writeValue(configJson.toFile(), config);
  }

  /** What each barrier task runs. */
  static final class Rank implements RankFunction<Map<String, Double>> {
    private static final long serialVersionUID = 1L;
    private final JobConfig job;
    private final JobConfig.Task task;
    private final JobData.Prepared data;

    Rank(JobConfig job, JobConfig.Task task, JobData.Prepared data) {
      this.job = job;
      this.task = task;
      this.data = data;
    }

    @Override
    public Map<String, Double> apply(RankContext ctx) throws Exception {
      TrainingArguments args = job.trainingArguments();
      // The model, and with it its optimizer state, gradients and batches, lives on the rank's device.
      Device device = DeviceSelection.forRank(job.device(), ctx.device());
      // The Trainer creates the model with the seed set, so that ranks sharing this JVM draw it reproducibly.
      // With a peft section the base is frozen and wrapped: only the adapter trains, syncs and is saved.
      Supplier<PreTrainedModel> modelInit = () -> {
        try {
          PreTrainedModel base = job.modelPath() != null
              ? AutoModel.fromPretrained(Path.of(job.modelPath()), FromPretrainedOptions.builder().device(device)
                  .build())
              : AutoModel.fromConfig(modelConfig(job), device);
          if (!job.usesPeft()) {
            return base;
          }
          return job.adapterPath() != null ? PeftModel.fromPretrained(base, Path.of(job.adapterPath()))
              : PeftModel.inject(base, job.lora());
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      };
      ComputeMetrics computeMetrics = null;
      PreprocessLogits preprocess = null;
      if (task == JobConfig.Task.CAUSAL_LM || task == JobConfig.Task.SFT) {
        if (job.metrics().contains("perplexity")) {
          computeMetrics = perplexity();
          preprocess = nextTokenLogLikelihoods();
        }
      } else if (!job.metrics().isEmpty()) {
        computeMetrics = metrics(job.metrics());
      }
      try (Trainer trainer = Trainer.builder(modelInit, args).trainData(data.train().toArrayData())
          .evalData(data.eval().toArrayData()).computeMetrics(computeMetrics)
          .preprocessLogitsForMetrics(preprocess).rankContext(ctx).build()) {
        Map<String, Double> result = new LinkedHashMap<>(trainer.train());
        Map<String, Double> evalMetrics = trainer.evaluate();
        result.putAll(evalMetrics);
        if ((task == JobConfig.Task.CAUSAL_LM || task == JobConfig.Task.SFT)
            && evalMetrics.containsKey("eval_loss")) {
          // run_clm: perplexity = math.exp(eval_loss), inf on overflow.
          double loss = evalMetrics.get("eval_loss");
          result.put("perplexity", loss > 709 ? Double.POSITIVE_INFINITY : Math.exp(loss));
        }
        result.put("train_rows", (double) data.train().rows());
        result.put("eval_rows", (double) data.eval().rows());
        result.put("all_reduce_share", trainer.allReduceShare());
        if (ctx.rank() == 0) {
          Path out = Path.of(args.outputDir());
          trainer.saveModel(out.resolve("model"));
          // The folder is self-contained, as transformers' Trainer saves its processing_class with the model:
          // generate and score take it as it is.
          if (job.tokenizer() != null && AutoTokenizer.isPresentIn(Path.of(job.tokenizer()))) {
            TokenizerFiles.copy(Path.of(job.tokenizer()), out.resolve("model"));
          }
          if (data.labelNames() != null) {
            writeLabelNames(out.resolve("model").resolve("config.json"), data.labelNames());
          }
          Files.createDirectories(out);
          new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
              .writeValue(out.resolve("metrics.json").toFile(), result);
        }
        return result;
      }
    }
  }
}
