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
import io.sparkformers.evaluate.MetricResult;
import io.sparkformers.evaluate.Perplexity;
import io.sparkformers.training.BatchMetrics;
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
 * Runs a {@link JobConfig}: the data is prepared (by Spark jobs on the executors, or in the driver without
 * data.use_spark), then a barrier stage of {@code world_size} ranks on the configured (or the surrounding
 * spark-submit) Spark runs over the prepared rows, one partition per rank, or over the shards of
 * {@code data.cache_dir}, or each rank streams its part of the files ({@code data.streaming}); each rank builds
 * the model, trains with the Trainer on its own rows and evaluates; rank 0 writes the model to
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
    if (job.streaming()) {
      StreamBlocks.Spec spec = streamSpec(job, task, modelConfig);
      try (DriverLogListener logs = openLogs(sc, job)) {
        // No Spark job reads the data: each rank streams its part of the files itself.
        return BarrierLauncher.run(sc, job.worldSize(), job.processGroupOptions(), new Rank(job, task, null, spec));
      }
    }
    long start = System.nanoTime();
    RankShards.Prepared data = prepare(job, task, modelConfig, spark);
    double prepareSeconds = (System.nanoTime() - start) / 1e9;
    try (DriverLogListener logs = openLogs(sc, job)) {
      // The barrier stage runs over the prepared rows, one partition per rank: the closure carries the
      // manifest only. The process_group section, ddp_backend and ddp_timeout reach every rank's group.
      Rank rank = new Rank(job, task, data.manifest());
      Map<String, Double> result;
      try {
        result = new LinkedHashMap<>(data.rows() == null
            ? BarrierLauncher.run(sc, job.worldSize(), job.processGroupOptions(), rank)
            : BarrierLauncher.run(data.rows(), job.processGroupOptions(), rank));
      } finally {
        data.release().run();
      }
      // The Spark jobs run before the barrier stage (the rows it repartitions are prepared lazily after).
      result.put("prepare_seconds", prepareSeconds);
      return result;
    }
  }

  /**
   * Rank 0's progress and log lines come back to this driver, wherever the ranks run; disable_tqdm drops the
   * bar but keeps the log lines.
   */
  private static DriverLogListener openLogs(JavaSparkContext sc, JobConfig job) {
    boolean bar = !job.trainingArguments().disableTqdm();
    return DriverLogListener.open(sc, job.worldSize(), bar ? System.err : null,
        bar ? List.of() : List.of(new io.sparkformers.training.LogPrinter(System.err)));
  }

  /**
   * The prepared rows, one partition per rank: with data.use_spark every task's rows are made by Spark jobs and
   * never reach the driver (causal LM data tokenized and grouped, the others tokenized or read row by row);
   * without it they are prepared in the driver.
   */
  static RankShards.Prepared prepare(JobConfig job, JobConfig.Task task, ModelConfig modelConfig,
      SparkSession spark) {
    int evalBatchSize = job.trainingArguments().perDeviceEvalBatchSize();
    if (job.useSpark() && job.cacheDir() != null) {
      // Shards on storage every executor reaches: written once, then read by each rank where they lie.
      String fingerprint = PreparedCache.fingerprint(job, task, modelConfig);
      return PreparedCache.prepare(job, fingerprint, evalBatchSize, task == JobConfig.Task.CAUSAL_LM
          ? () -> SparkCausalLm.keyed(job, (io.sparkformers.training.models.CausalLmConfig) modelConfig, spark,
              evalBatchSize)
          : () -> SparkRows.keyed(job, task, modelConfig, spark, evalBatchSize));
    }
    if (task == JobConfig.Task.CAUSAL_LM && job.useSpark()) {
      return SparkCausalLm.prepare(job, (io.sparkformers.training.models.CausalLmConfig) modelConfig, spark,
          evalBatchSize);
    }
    if (job.useSpark()) {
      // Tokenized, templated and labelled by Spark tasks; the rows go from the executors to the ranks.
      return SparkRows.prepare(job, task, modelConfig, spark, evalBatchSize);
    }
    JobData.Prepared data = JobData.prepare(job, task, modelConfig, spark);
    return RankShards.fromDriver(JavaSparkContext.fromSparkContext(spark.sparkContext()), data, job.worldSize(),
        evalBatchSize);
  }

  /**
   * What the ranks need to stream a causal LM's train files, checked here first: the task, max_steps, the
   * files and their columns, the tokenizer and the block size.
   */
  static StreamBlocks.Spec streamSpec(JobConfig job, JobConfig.Task task, ModelConfig modelConfig) {
    if (task != JobConfig.Task.CAUSAL_LM) {
      throw new IllegalArgumentException(job.source() + ": key 'data.streaming' is for task causal_lm; the task is "
          + task.configName());
    }
    TrainingArguments args = job.trainingArguments();
    if (args.maxSteps() <= 0) {
      throw new IllegalArgumentException(job.source() + ": key 'data.streaming' needs training_args.max_steps:"
          + " a stream has no length to count epochs by");
    }
    if (!job.evalFiles().isEmpty()) {
      throw new IllegalArgumentException(job.source() + ": key 'data.streaming' evaluates nothing; remove"
          + " data.eval_file");
    }
    var model = (io.sparkformers.training.models.CausalLmConfig) modelConfig;
    List<String> files = new java.util.ArrayList<>();
    for (String f : job.trainFiles()) {
      files.add(f.startsWith("classpath:") ? JobData.fromClasspath(f).toString() : f);
    }
    String what = JobData.describe(job.trainFiles());
    io.sparkformers.datasets.Features features;
    try {
      features = io.sparkformers.datasets.IterableDataset.fromFiles(job.format(),
          io.sparkformers.datasets.LoadOptions.builder().hadoopConfiguration(job.hadoop()).build(),
          files.toArray(String[]::new)).features();
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("data.train_file " + what + ": " + e.getMessage(), e);
    }
    boolean preTokenized = features.contains("input_ids");
    int blockSize;
    if (preTokenized) {
      blockSize = JobData.blockSize(job, Long.MAX_VALUE, model);
    } else {
      if (!features.contains(job.textColumn())) {
        throw new IllegalArgumentException(what + ": no column '" + job.textColumn() + "' (data.text_column) or"
            + " 'input_ids' to stream; the columns are " + JobData.columns(features));
      }
      try (io.sparkformers.datasets.Tokenizer t = JobData.tokenizer(job, model.vocabSize())) {
        blockSize = JobData.blockSize(job, t.modelMaxLength(), model);
      }
    }
    long rowsPerRank = args.maxSteps() * args.gradientAccumulationSteps() * (long) args.perDeviceTrainBatchSize();
    return new StreamBlocks.Spec(files, job.format(), job.hadoop(), preTokenized ? null : job.textColumn(),
        preTokenized ? null : Path.of(job.tokenizer()).toAbsolutePath().toString(), blockSize, args.dataSeed(),
        job.shuffleBufferSize(), rowsPerRank, what);
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

  /**
   * compute_metrics from the evaluate module's classification statistics, accumulated batch by batch: the
   * per-label counts of every (argmax, label) pair, scored under the macro and weighted averages at the end.
   * The counts are integers, so the scores are those of one pass over every row.
   */
  static Supplier<BatchMetrics> metrics(List<String> names) {
    return () -> new BatchMetrics() {
      private final Classification counter = new Classification(); // add() reads no options
      private final Classification.Stats counts = counter.newState();

      @Override
      public void update(EvalPrediction batch) {
        long[] pred = batch.argmax();
        long[] ref = batch.labelIds();
        for (int i = 0; i < pred.length; i++) {
          counter.add(counts, pred[i], ref[i]);
        }
      }

      @Override
      public Map<String, Double> compute() {
        Map<String, Double> out = new LinkedHashMap<>();
        for (String average : List.of("macro", "weighted")) {
          MetricResult r = new Classification(Classification.Options.builder().average(average).build())
              .compute(counts);
          for (String name : names) {
            switch (name) {
              case "accuracy" -> out.put("accuracy", r.getDouble("accuracy"));
              case "f1_macro" -> { if (average.equals("macro")) { out.put(name, r.getDouble("f1")); } }
              case "precision_macro" -> { if (average.equals("macro")) { out.put(name, r.getDouble("precision")); } }
              case "recall_macro" -> { if (average.equals("macro")) { out.put(name, r.getDouble("recall")); } }
              case "f1_weighted" -> { if (average.equals("weighted")) { out.put(name, r.getDouble("f1")); } }
              default -> throw new IllegalArgumentException("unknown metric " + name);
            }
          }
        }
        return out;
      }
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
   * perplexity over every predicted token (NaN marks the skipped ones), accumulated batch by batch. Batches
   * come in row order, so the sums add in the order of one pass over every row.
   */
  static Supplier<BatchMetrics> perplexity() {
    return () -> new BatchMetrics() {
      private final Perplexity metric = new Perplexity();
      private final Perplexity.Stats stats = metric.newState();

      @Override
      public void update(EvalPrediction batch) {
        for (float[] row : batch.predictions()) {
          double[] ll = new double[row.length];
          int count = 0;
          for (float v : row) {
            if (!Float.isNaN(v)) {
              ll[count++] = v;
            }
          }
          if (count > 0) {
            metric.add(stats, Arrays.copyOf(ll, count));
          }
        }
      }

      @Override
      public Map<String, Double> compute() {
        return Map.of("perplexity", metric.compute(stats).getDouble("perplexity"));
      }
    };
  }

  /**
   * The job's TrainingArguments: batch_eval_metrics is on unless training_args sets it, since the job's own
   * metrics accumulate batch by batch and evaluation then keeps no rows (the same numbers either way).
   */
  static TrainingArguments trainingArguments(JobConfig job) {
    TrainingArguments args = job.trainingArguments();
    return job.trainingArgsMap().containsKey("batch_eval_metrics") ? args
        : args.toBuilder().batchEvalMetrics(true).build();
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
    private final RankShards.Manifest data; // null when streaming
    private final StreamBlocks.Spec stream; // null unless streaming

    Rank(JobConfig job, JobConfig.Task task, RankShards.Manifest data) {
      this(job, task, data, null);
    }

    Rank(JobConfig job, JobConfig.Task task, RankShards.Manifest data, StreamBlocks.Spec stream) {
      this.job = job;
      this.task = task;
      this.data = data;
      this.stream = stream;
    }

    @Override
    public Map<String, Double> apply(RankContext ctx) throws Exception {
      TrainingArguments args = trainingArguments(job);
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
      Supplier<BatchMetrics> computeMetrics = null;
      PreprocessLogits preprocess = null;
      if (task == JobConfig.Task.CAUSAL_LM || task == JobConfig.Task.SFT) {
        if (job.metrics().contains("perplexity")) {
          computeMetrics = perplexity();
          preprocess = nextTokenLogLikelihoods();
        }
      } else if (!job.metrics().isEmpty()) {
        computeMetrics = metrics(job.metrics());
      }
      if (stream != null) {
        return streaming(ctx, args, modelInit);
      }
      // This rank's rows, spilled once to local disk (or read from the shards on storage) and memory-mapped;
      // the Trainer reads its batches from them.
      Path localDir = Path.of(org.apache.spark.SparkFiles.getRootDirectory());
      try (RankShards.Spilled shards = data.stored() != null
              ? PreparedCache.open(data.stored(), ctx.rank(), ctx.worldSize(), data.evalBatchSize(), localDir)
              : RankShards.spill(ctx.partition(), data, ctx.rank(), localDir);
          RankShards.Timed train = new RankShards.Timed(shards.train, shards.train.columnNames());
          RankShards.Timed eval = new RankShards.Timed(shards.eval, shards.eval.columnNames());
          Trainer trainer = Trainer.builder(modelInit, args).trainData(train).evalData(eval).rankShards(true)
              .batchMetrics(computeMetrics).preprocessLogitsForMetrics(preprocess).rankContext(ctx).build()) {
        Map<String, Double> result = new LinkedHashMap<>(trainer.train());
        Map<String, Double> evalMetrics = trainer.evaluate();
        result.putAll(evalMetrics);
        if ((task == JobConfig.Task.CAUSAL_LM || task == JobConfig.Task.SFT)
            && evalMetrics.containsKey("eval_loss")) {
          // run_clm: perplexity = math.exp(eval_loss), inf on overflow.
          double loss = evalMetrics.get("eval_loss");
          result.put("perplexity", loss > 709 ? Double.POSITIVE_INFINITY : Math.exp(loss));
        }
        result.put("train_rows", (double) data.trainRows());
        result.put("eval_rows", (double) data.evalRows());
        result.put("all_reduce_share", trainer.allReduceShare());
        double stepSeconds = trainer.timings().get("step");
        result.put("data_loading_share", stepSeconds == 0 ? 0 : train.nanos() / 1e9 / stepSeconds);
        // What each rank spilled (its whole input): about 1/world_size of the data, not all of it.
        long[] bytes = ctx.worldSize() == 1 ? new long[] {shards.bytes}
            : io.sparkformers.accelerate.Accelerator.of(ctx.processGroup(), ai.djl.Device.cpu())
                .gather(new long[] {shards.bytes});
        for (int r = 0; r < bytes.length; r++) {
          result.put("shard_bytes_rank_" + r, (double) bytes[r]);
        }
        save(ctx, args, trainer, result, data.labelNames());
        return result;
      }
    }

    /** A streamed causal LM: this rank's part of the stream, max_steps steps, no evaluation. */
    private Map<String, Double> streaming(RankContext ctx, TrainingArguments args,
        Supplier<PreTrainedModel> modelInit) throws IOException {
      // In order (no shuffle: the stream's buffer shuffles), each rank its own part of the stream.
      try (StreamBlocks blocks = new StreamBlocks(stream, ctx.rank(), ctx.worldSize());
          Trainer trainer = Trainer.builder(modelInit, args).trainData(blocks).shuffle(false).rankShards(true)
              .rankContext(ctx).build()) {
        Map<String, Double> result = new LinkedHashMap<>(trainer.train());
        result.put("stream_blocks_per_rank", (double) stream.rowsPerRank());
        result.put("stream_blocks_skipped", (double) blocks.skipped());
        result.put("stream_rows_read", (double) blocks.rowsRead());
        result.put("stream_rows_read_to_resume", (double) blocks.rowsReadToResume());
        result.put("all_reduce_share", trainer.allReduceShare());
        save(ctx, args, trainer, result, null);
        return result;
      }
    }

    /** Rank 0 writes the model folder (with the tokenizer and label names) and metrics.json. */
    private void save(RankContext ctx, TrainingArguments args, Trainer trainer, Map<String, Double> result,
        List<String> labelNames) throws IOException {
      if (ctx.rank() != 0) {
        return;
      }
      Path out = Path.of(args.outputDir());
      trainer.saveModel(out.resolve("model"));
      // The folder is self-contained, as transformers' Trainer saves its processing_class with the model:
      // generate and score take it as it is.
      if (job.tokenizer() != null && AutoTokenizer.isPresentIn(Path.of(job.tokenizer()))) {
        TokenizerFiles.copy(Path.of(job.tokenizer()), out.resolve("model"));
      }
      if (labelNames != null) {
        writeLabelNames(out.resolve("model").resolve("config.json"), labelNames);
      }
      Files.createDirectories(out);
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
          .writeValue(out.resolve("metrics.json").toFile(), result);
    }
  }
}
