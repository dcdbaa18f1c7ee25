package io.sparkformers.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import io.sparkformers.accelerate.DriverChannel;
import io.sparkformers.accelerate.ProcessGroup;
import io.sparkformers.accelerate.RankContext;
import io.sparkformers.datasets.Dataset;
import io.sparkformers.datasets.EpochSampler;
import io.sparkformers.training.checkpoint.CheckpointStore;
import io.sparkformers.training.ddp.GradientBuckets;
import io.sparkformers.training.internal.Autocast;
import io.sparkformers.training.internal.Autograd;
import io.sparkformers.training.internal.MixedPrecision;
import io.sparkformers.training.internal.TorchRandom;
import io.sparkformers.training.internal.Views;
import io.sparkformers.training.models.ModelOutput;
import io.sparkformers.training.models.PreTrainedModel;
import io.sparkformers.training.models.internal.Ops;
import io.sparkformers.training.optim.GradScaler;
import io.sparkformers.training.optim.Optimizer;
import io.sparkformers.training.optim.OptimizerFactory;
import io.sparkformers.training.optim.Param;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.logging.Logger;
import org.apache.hadoop.conf.Configuration;

/**
 * transformers' {@code Trainer} for one rank: {@link #train()}, {@link #evaluate()}, {@link #predict}. With a
 * {@link ProcessGroup} of several ranks it trains data-parallel: rank 0's weights are broadcast first, each
 * rank takes its batches ({@link EpochSampler}), gradients are averaged between backward and the optimizer
 * step on the last micro-step of each accumulation, and rank 0 writes logs and checkpoints. Without one it
 * trains on one rank in the calling thread. The decisions of when to log, evaluate and save are
 * {@link DefaultFlowCallback}'s; a subclass may override {@link #computeLoss}, {@link #trainingStep},
 * {@link #createOptimizer} and {@link #predictionStep}, as in transformers. Not thread-safe; one per rank.
 */
public class Trainer implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(Trainer.class.getName());

  final PreTrainedModel model;
  final TrainingArguments args;
  final TrainingData trainData;
  final TrainingData evalData;
  final List<TrainerCallback> callbacks;
  final ProcessGroup group;
  final boolean shuffle;
  final boolean rankShards; // each dataset holds this rank's rows only
  final List<Param> params;
  final CheckpointStore store;
  final TrainingCheckpoints checkpoints;
  private final Predictor predictor;
  final TimingCallback timing = new TimingCallback();
  final TrainerState state = new TrainerState();
  final TrainerControl control = new TrainerControl();
  private final int intraOpThreads;
  private final List<DatasetTrainingData> owned; // views of datasets given to the builder
  private final boolean ownsModel; // made by the builder's modelInit
  GradientBuckets buckets; // set by the training loop while data-parallel
  GradScaler scaler; // set by the training loop under fp16
  final Autocast autocast; // bf16 or fp16 matrix products; null in float32

  /** Builds the Trainer {@code builder} describes; subclasses pass their builder here. */
  protected Trainer(Builder b) {
    if (b.model == null || b.args == null) {
      throw new IllegalArgumentException("a Trainer needs a model and TrainingArguments");
    }
    if (b.trainData == null && b.evalData == null) {
      throw new IllegalArgumentException("a Trainer needs a train or an eval dataset");
    }
    this.model = b.model;
    this.args = b.args;
    this.trainData = b.trainData;
    this.evalData = b.evalData;
    this.group = b.group;
    this.shuffle = b.shuffle;
    this.rankShards = b.rankShards;
    this.intraOpThreads = b.intraOpThreads;
    this.callbacks = new ArrayList<>(b.callbacks);
    this.owned = List.copyOf(b.owned);
    this.ownsModel = b.ownsModel;
    // Only what is trained is optimised, synchronised and checkpointed as optimizer state.
    this.params = OptimizerFactory.parameterGroups(model.trainableParameters());
    this.store = new CheckpointStore(args.outputDir(), b.hadoopConf);
    this.checkpoints = new TrainingCheckpoints(model, args, state, store, group, params);
    if (args.fp16() && !model.manager().getDevice().isGpu()) {
      // As transformers: float16 with loss scaling is a GPU mode (CPU float16 matrix products are slow and
      // overflow-prone); bfloat16 has float32's range and runs on CPU.
      throw new IllegalArgumentException("fp16 mixed precision requires a GPU (the model is on "
          + model.manager().getDevice() + "); use bf16=true on CPU");
    }
    if (args.batchEvalMetrics() && b.computeMetrics != null) {
      throw new IllegalArgumentException(Predictor.ONE_SHOT_UNDER_BATCH_EVAL);
    }
    this.autocast = args.bf16() ? Autocast.load(model.manager(), MixedPrecision.BF16)
        : args.fp16() ? Autocast.load(model.manager(), MixedPrecision.FP16) : null;
    // Evaluation runs under the same autocast as training, as transformers' prediction_step does.
    this.predictor = new Predictor(model.manager(), args.perDeviceEvalBatchSize(), group, b.preprocessLogits,
        b.computeMetrics, b.batchMetrics, inputs -> {
          try (Autocast.Scope scope = enterAutocast()) {
            return predictionStep(model, inputs);
          }
        }, b.rankShards);
    state.worldProcessZero = rank() == 0;
    if (args.evalStrategy() != IntervalStrategy.NO && evalData == null) {
      throw new IllegalArgumentException("eval_strategy=" + args.evalStrategy()
          + " requires an eval dataset: give one to Trainer.builder().evalData(...)");
    }
    TrainingData.requireColumns(trainData, "train", model.inputColumns(), model.modelType());
    TrainingData.requireColumns(evalData, "eval", model.inputColumns(), model.modelType());
  }

  public static Builder builder(PreTrainedModel model, TrainingArguments args) {
    return new Builder(model, args, false);
  }

  /**
   * A builder for a Trainer that creates its model with {@code modelInit} (transformers' {@code model_init}),
   * with libtorch's generator seeded to {@code args.seed()} first, so that the seed alone fixes the initial
   * weights, also when other ranks initialise theirs in the same JVM at the same time. The Trainer owns that
   * model and closes it.
   */
  public static Builder builder(Supplier<? extends PreTrainedModel> modelInit, TrainingArguments args) {
    return new Builder(TorchRandom.seeded(args.seed(), modelInit::get), args, true);
  }

  public int rank() {
    return group == null ? 0 : group.rank();
  }

  public int worldSize() {
    return group == null ? 1 : group.worldSize();
  }

  public TrainerState state() {
    return state;
  }

  public TrainingArguments args() {
    return args;
  }

  /** The model being trained (owned by the caller). */
  public PreTrainedModel model() {
    return model;
  }

  /** The fraction of optimizer-step time spent waiting on gradient all-reduces (0 on one rank). */
  public double allReduceShare() {
    long stepNanos = timing.stepNanos();
    return stepNanos == 0 || buckets == null ? 0 : (double) buckets.allReduceNanos() / stepNanos;
  }

  /**
   * Seconds summed over the steps run: {@code step}, {@code forward_backward}, {@code optimizer}
   * ({@link TimingCallback}), and inside the optimizer part {@code copy_out} (the division by the world size),
   * {@code all_reduce} (including the wait for the slowest rank) and {@code copy_in} (0: nothing is copied back).
   */
  public Map<String, Double> timings() {
    Map<String, Double> t = new LinkedHashMap<>(timing.seconds());
    t.put("copy_out", buckets == null ? 0 : buckets.copyOutNanos() / 1e9);
    t.put("all_reduce", buckets == null ? 0 : buckets.allReduceNanos() / 1e9);
    t.put("copy_in", buckets == null ? 0 : buckets.copyInNanos() / 1e9);
    return t;
  }

  /** Bytes of gradients all-reduced per optimizer step: the trainable parameters' (0 on one rank). */
  public long allReducedBytesPerStep() {
    return buckets == null ? 0 : buckets.bucketBytes().stream().mapToLong(Integer::longValue).sum();
  }

  /** Gradient buckets whose all-reduce started while backward still ran, over all steps (ddp_overlap_backward). */
  public long bucketsLaunchedDuringBackward() {
    return buckets == null ? 0 : buckets.bucketsLaunchedDuringBackward();
  }

  /** Gradient buckets of data-parallel training: {registered in shared memory, total}; {0, 0} on one rank. */
  public int[] gradientBuckets() {
    return buckets == null ? new int[2] : new int[] {buckets.registeredBuckets(), buckets.bucketBytes().size()};
  }

  // ------------------------------------------------------------------------------------------ steps

  /** The optimizer over {@code params} (the trainable parameters, with their weight-decay groups). */
  protected Optimizer createOptimizer(List<Param> params) {
    return OptimizerFactory.create(args, params);
  }

  /**
   * The loss to train on for one batch, a scalar recorded by autograd: the model's own loss (the inputs hold
   * labels). Override for a custom loss; the inputs and whatever the forward pass makes belong to the batch.
   */
  protected NDArray computeLoss(PreTrainedModel model, Map<String, NDArray> inputs) {
    ModelOutput out = model.forward(inputs, true);
    if (out.loss() == null) {
      throw new IllegalArgumentException("the model returned no loss: the train dataset must hold labels");
    }
    return out.loss();
  }

  /**
   * One micro-batch: the loss ({@link #computeLoss}) divided by the accumulation steps (and scaled under
   * fp16), then backward. Returns the loss divided by the accumulation steps, as a number.
   */
  protected double trainingStep(PreTrainedModel model, Map<String, NDArray> inputs) {
    NDManager batch = inputs.values().iterator().next().getManager();
    // Recording is per thread; restore the caller's mode afterwards (train() may run in a notebook's thread).
    boolean wasRecording = Autograd.isEnabled();
    try {
      Autograd.enable();
      NDArray loss;
      try (Autocast.Scope scope = enterAutocast()) { // the forward pass only, as torch.autocast is used
        loss = computeLoss(model, inputs);
      }
      loss.attach(batch);
      float value = loss.getFloat();
      if (!Float.isFinite(value) && scaler == null) {
        throw new ArithmeticException("the loss is " + value + " at step " + (state.globalStep + 1)
            + " (rank " + rank() + "): training stopped; lower the learning rate or check the data");
      }
      int gas = args.gradientAccumulationSteps();
      NDArray scaled = gas == 1 ? loss : Ops.div(loss, gas);
      if (scaler != null) {
        scaled = Ops.mul(scaled, scaler.scale());
      }
      Autograd.backward(scaled);
      return value / (double) gas;
    } finally {
      Autograd.setEnabled(wasRecording);
    }
  }

  /** Enters this trainer's autocast on the calling thread (a no-op scope in float32). */
  private Autocast.Scope enterAutocast() {
    return autocast == null ? () -> { } : autocast.enter();
  }

  /** One batch's forward pass for evaluation (no gradients): logits, and the loss when labels are given. */
  protected ModelOutput predictionStep(PreTrainedModel model, Map<String, NDArray> inputs) {
    return model.forward(inputs, false);
  }

  // ------------------------------------------------------------------------------------------ train

  /** Trains as configured and returns the final metrics (train_loss, train_runtime, ...). */
  public Map<String, Double> train() {
    if (trainData == null) {
      throw new IllegalStateException("train() needs a train dataset: Trainer.builder().trainData(...)");
    }
    // libtorch's intra-op thread count: ranks sharing a machine each take their share of its cores (as DDP's
    // processes run with OMP_NUM_THREADS), instead of every rank starting a pool of all the cores.
    int threadsBefore = intraOpThreads > 0 ? JniUtils.getNumThreads() : 0;
    if (intraOpThreads > 0 && threadsBefore != intraOpThreads) {
      JniUtils.setNumThreads(intraOpThreads);
    }
    // Rank 0 streams its log events to the driver when the run was launched with a DriverLogListener open.
    DriverChannel.Sender toDriver = rank() == 0 ? driverSender() : null;
    try {
      return new TrainingLoop(this, toDriver).run();
    } finally {
      TorchRandom.endSteps();
      if (buckets != null) {
        buckets.unbindGradients(); // before the group (and the shared memory the gradients live in) closes
      }
      if (toDriver != null) {
        toDriver.close();
      }
      if (intraOpThreads > 0 && threadsBefore != intraOpThreads) {
        JniUtils.setNumThreads(threadsBefore);
      }
    }
  }

  private static DriverChannel.Sender driverSender() {
    try {
      return DriverChannel.senderForThisTask(0).orElse(null);
    } catch (NoClassDefFoundError e) {
      return null; // no Spark on the class path: nothing to stream to
    }
  }

  void log(List<TrainerCallback> all, Map<String, Object> logs) {
    control.shouldLog = false;
    Map<String, Object> entry = new LinkedHashMap<>(logs);
    entry.put("step", state.globalStep);
    state.logHistory.add(entry);
    all.forEach(c -> c.onLog(args, state, control, logs));
  }

  // ------------------------------------------------------------------------------------------ evaluate

  /** Evaluates on the eval dataset: {@code eval_loss}, the compute_metrics results, runtime. */
  public Map<String, Double> evaluate() {
    return evaluate(callbacks);
  }

  Map<String, Double> evaluate(List<TrainerCallback> all) {
    if (evalData == null) {
      throw new IllegalStateException("evaluate() needs an eval dataset: Trainer.builder().evalData(...)");
    }
    long start = System.nanoTime();
    // batch_eval_metrics: compute_metrics accumulates step by step and no row is kept.
    Predictor.Evaluation evaluation = args.batchEvalMetrics() ? predictor.evaluate(evalData, "eval")
        : Predictor.Evaluation.of(predict(evalData, "eval"));
    Map<String, Double> metrics = new LinkedHashMap<>(evaluation.metrics());
    double runtime = (System.nanoTime() - start) / 1e9;
    long evalRows = evaluation.rows(); // every rank's rows, also when each holds its shard
    long batches = (evalRows + args.perDeviceEvalBatchSize() - 1) / args.perDeviceEvalBatchSize();
    metrics.put("eval_runtime", Math.round(runtime * 1e4) / 1e4);
    metrics.put("eval_samples_per_second", Math.round(evalRows / runtime * 1e3) / 1e3);
    metrics.put("eval_steps_per_second", Math.round(batches / runtime * 1e3) / 1e3);
    Map<String, Object> logs = new LinkedHashMap<>(metrics);
    logs.put("epoch", state.epoch);
    log(all, logs);
    all.forEach(c -> c.onEvaluate(args, state, control, metrics));
    return metrics;
  }

  /** Logits, labels and metrics of a dataset, with metric keys prefixed by {@code prefix_}. */
  public record Prediction(float[][] predictions, long[][] labels, Map<String, Double> metrics) {}

  /**
   * Runs the model over every row of {@code data} ({@link #predictionStep} per batch), returning logits (or
   * what preprocess_logits_for_metrics keeps of them) and labels in row order, the mean loss when labels are
   * present, and the compute_metrics results; on several ranks every rank gets the whole result.
   */
  public Prediction predict(TrainingData data, String prefix) {
    return predictor.predict(data, prefix);
  }

  /** Writes the model (config.json, model.safetensors) into {@code folder} (rank 0 only). */
  public void saveModel(Path folder) throws IOException {
    if (rank() == 0) {
      Files.createDirectories(folder);
      model.savePretrained(folder);
    }
  }

  /** SHA-256 over every trained parameter's bytes, in order: equal on ranks holding identical weights. */
  public String parameterChecksum() {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      for (Param p : params) {
        md.update(Views.read(p.array()).duplicate());
      }
      return HexFormat.of().formatHex(md.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    // A model given to the builder and the process group belong to the caller; train() closes the optimizer.
    owned.forEach(DatasetTrainingData::close);
    if (autocast != null) {
      autocast.close();
    }
    if (ownsModel) {
      model.close();
    }
  }

  /** Builds a {@link Trainer}; {@code new MyTrainer(builder)} builds a subclass from the same settings. */
  public static final class Builder {
    final PreTrainedModel model;
    final TrainingArguments args;
    private TrainingData trainData;
    private TrainingData evalData;
    private ComputeMetrics computeMetrics;
    private Supplier<? extends BatchMetrics> batchMetrics;
    private PreprocessLogits preprocessLogits;
    final List<TrainerCallback> callbacks = new ArrayList<>();
    private ProcessGroup group;
    private boolean shuffle = true;
    private boolean rankShards;
    private Configuration hadoopConf;
    private int intraOpThreads;
    private final List<DatasetTrainingData> owned = new ArrayList<>();

    private final boolean ownsModel;

    private Builder(PreTrainedModel model, TrainingArguments args, boolean ownsModel) {
      this.model = model;
      this.args = args;
      this.ownsModel = ownsModel;
    }

    public Builder trainData(TrainingData v) { trainData = v; return this; }
    public Builder evalData(TrainingData v) { evalData = v; return this; }
    /** A dataset's columns that the model takes, read from its Arrow batches ({@link DatasetTrainingData}). */
    public Builder trainData(Dataset v) { trainData = columnsOf(v); return this; }
    /** As {@link #trainData(Dataset)}, for evaluation. */
    public Builder evalData(Dataset v) { evalData = columnsOf(v); return this; }

    private DatasetTrainingData columnsOf(Dataset dataset) {
      DatasetTrainingData data = new DatasetTrainingData(dataset, model.inputColumns(),
          DatasetTrainingData.OPTIONAL_INPUTS);
      owned.add(data);
      return data;
    }
    public Builder computeMetrics(ComputeMetrics v) { computeMetrics = v; return this; }
    /**
     * compute_metrics that accumulates batch by batch: {@code newPass} makes a fresh {@link BatchMetrics} for each
     * evaluation or prediction. Required for compute_metrics under batch_eval_metrics; without it, the same
     * numbers from the rows that are then kept. Give this or {@link #computeMetrics}, not both.
     */
    public Builder batchMetrics(Supplier<? extends BatchMetrics> newPass) { batchMetrics = newPass; return this; }
    /** Reduces each evaluation batch's logits before they are kept (transformers' preprocess_logits_for_metrics). */
    public Builder preprocessLogitsForMetrics(PreprocessLogits v) { preprocessLogits = v; return this; }
    public Builder callback(TrainerCallback v) { callbacks.add(v); return this; }
    /** The ranks to train with; none (or world size 1) trains on this thread alone. */
    public Builder processGroup(ProcessGroup v) { group = v; return this; }
    /** Whether each epoch visits the rows in a seeded random order (true, as transformers) or in order. */
    public Builder shuffle(boolean v) { shuffle = v; return this; }
    /**
     * Whether the train and eval data (and any dataset given to {@link #predict}) hold this rank's rows only
     * (false: every rank holds every row). Train rows: each rank shuffles its own shard every epoch (seeded by
     * data_seed and the epoch) and the ranks take as many batches per epoch (the largest shard decides, the
     * others wrap around; the smallest under dataloader_drop_last). Eval rows: rank r holds the evaluation
     * batches r, r + world_size, ... (per_device_eval_batch_size rows each, in order), which gives the same
     * predictions, in the same order, as every rank holding every row.
     */
    public Builder rankShards(boolean v) { rankShards = v; return this; }
    /** Hadoop settings for an output_dir on s3a:// or hdfs://. */
    public Builder hadoopConf(Configuration v) { hadoopConf = v; return this; }
    /**
     * libtorch intra-op threads for this rank while {@link #train()} runs (0, the default, leaves libtorch's
     * setting alone). Ranks that share a machine should split its cores: {@link RankContext#intraOpThreads()}.
     */
    public Builder intraOpThreads(int v) {
      if (v < 0) {
        throw new IllegalArgumentException("intraOpThreads must be 0 (unchanged) or positive, got " + v);
      }
      intraOpThreads = v;
      return this;
    }
    /** The rank this trainer runs as: its process group and its share of the cores. */
    public Builder rankContext(RankContext ctx) {
      group = ctx.processGroup();
      intraOpThreads = ctx.intraOpThreads();
      return this;
    }

    public Trainer build() {
      return new Trainer(this);
    }
  }
}
