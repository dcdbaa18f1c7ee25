package io.sparkformers.training;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.sparkformers.accelerate.Accelerator;
import io.sparkformers.accelerate.DriverChannel;
import io.sparkformers.accelerate.ElementType;
import io.sparkformers.accelerate.ProcessGroup;
import io.sparkformers.accelerate.RankContext;
import io.sparkformers.training.checkpoint.CheckpointStore;
import io.sparkformers.training.ddp.GradientBuckets;
import io.sparkformers.training.internal.Autograd;
import io.sparkformers.training.internal.NoGrad;
import io.sparkformers.training.internal.Views;
import io.sparkformers.training.models.ModelOutput;
import io.sparkformers.training.models.SafeTensorsFile;
import io.sparkformers.training.models.SafeTensorsWriter;
import io.sparkformers.training.models.PreTrainedModel;
import io.sparkformers.training.models.internal.Ops;
import io.sparkformers.training.optim.AdamW;
import io.sparkformers.training.optim.GradClipping;
import io.sparkformers.training.optim.GradScaler;
import io.sparkformers.training.optim.Optimizer;
import io.sparkformers.training.optim.Param;
import io.sparkformers.training.optim.Sgd;
import io.sparkformers.training.schedule.LrScheduler;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.logging.Logger;
import org.apache.hadoop.conf.Configuration;

/**
 * transformers' {@code Trainer} for one rank: {@link #train()}, {@link #evaluate()}, {@link #predict}. With a
 * {@link ProcessGroup} of several ranks it trains data-parallel: rank 0's weights are broadcast first, each
 * rank takes its batches (accelerate deals whole batches round-robin), gradients are averaged between
 * backward and the optimizer step on the last micro-step of each accumulation, and rank 0 writes logs and
 * checkpoints. Without one it trains on one rank in the calling thread. Not thread-safe; one per rank.
 */
public final class Trainer implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(Trainer.class.getName());
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private final PreTrainedModel model;
  private final TrainingArguments args;
  private final TrainingData trainData;
  private final TrainingData evalData;
  private final ComputeMetrics computeMetrics;
  private final PreprocessLogits preprocessLogits;
  private final List<TrainerCallback> callbacks;
  private final ProcessGroup group;
  private final boolean shuffle;
  private final Configuration hadoopConf;
  private final List<Param> params;
  private final CheckpointStore store;
  private final TrainerState state = new TrainerState();
  private final TrainerControl control = new TrainerControl();
  private final int intraOpThreads;
  private GradientBuckets buckets;
  private long stepNanos;
  private long forwardBackwardNanos;
  private long optimizerNanos;

  private Trainer(Builder b) {
    this.model = b.model;
    this.args = b.args;
    this.trainData = b.trainData;
    this.evalData = b.evalData;
    this.computeMetrics = b.computeMetrics;
    this.preprocessLogits = b.preprocessLogits;
    this.group = b.group;
    this.shuffle = b.shuffle;
    this.hadoopConf = b.hadoopConf;
    this.intraOpThreads = b.intraOpThreads;
    this.callbacks = new ArrayList<>(b.callbacks);
    this.params = new ArrayList<>();
    for (Map.Entry<String, Parameter> e : model.trainableParameters().entrySet()) {
      params.add(new Param(e.getKey(), e.getValue().getArray(), Param.decayByName(e.getKey())));
    }
    this.store = new CheckpointStore(args.outputDir(), hadoopConf);
    state.worldProcessZero = rank() == 0;
    if (!"no".equals(args.evalStrategy()) && evalData == null) {
      throw new IllegalArgumentException("eval_strategy=" + args.evalStrategy()
          + " requires an eval dataset: give one to Trainer.builder().evalData(...)");
    }
    checkColumns(trainData, "train");
    if (evalData != null) {
      checkColumns(evalData, "eval");
    }
  }

  public static Builder builder(PreTrainedModel model, TrainingArguments args) {
    return new Builder(model, args);
  }

  private void checkColumns(TrainingData data, String which) {
    if (data == null) {
      return;
    }
    List<String> missing = new ArrayList<>();
    for (String c : model.inputColumns()) {
      if (!data.columns().contains(c)) {
        missing.add(c);
      }
    }
    if (!missing.isEmpty()) {
      throw new IllegalArgumentException("the " + which + " dataset lacks the column(s) " + missing
          + " that a '" + model.modelType() + "' model needs; it has " + data.columns());
    }
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

  /** The fraction of optimizer-step time spent waiting on gradient all-reduces (0 on one rank). */
  public double allReduceShare() {
    return stepNanos == 0 || buckets == null ? 0 : (double) buckets.allReduceNanos() / stepNanos;
  }

  /**
   * Where the training time went, in seconds summed over the steps run: {@code step} (whole optimizer
   * steps), {@code forward_backward}, {@code optimizer} (gradient sync, clipping, update, zeroing), and the
   * parts of the gradient sync inside {@code optimizer}: {@code copy_out} (the division by the world size, in
   * the buckets the gradients live in),
   * {@code all_reduce} (launching and waiting on the buckets' all-reduces, which includes waiting for the
   * slowest rank) and {@code copy_in} (0: nothing is copied back).
   */
  public Map<String, Double> timings() {
    Map<String, Double> t = new LinkedHashMap<>();
    t.put("step", stepNanos / 1e9);
    t.put("forward_backward", forwardBackwardNanos / 1e9);
    t.put("optimizer", optimizerNanos / 1e9);
    t.put("copy_out", buckets == null ? 0 : buckets.copyOutNanos() / 1e9);
    t.put("all_reduce", buckets == null ? 0 : buckets.allReduceNanos() / 1e9);
    t.put("copy_in", buckets == null ? 0 : buckets.copyInNanos() / 1e9);
    return t;
  }

  /** Gradient buckets of data-parallel training: {registered in shared memory, total}; {0, 0} on one rank. */
  public int[] gradientBuckets() {
    return buckets == null ? new int[2] : new int[] {buckets.registeredBuckets(), buckets.bucketBytes().size()};
  }

  // ------------------------------------------------------------------------------------------ sizes

  /** The batches of one epoch for this rank, as row ids (accelerate's BatchSamplerShard, even batches). */
  List<long[]> epochBatches(long epoch) {
    long n = trainData.numRows();
    long[] order = new long[(int) n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    if (shuffle) {
      // A seeded Fisher-Yates per epoch: the same order on every rank and every run.
      SplittableRandom rng = new SplittableRandom(args.dataSeed() * 1_000_003L + epoch);
      for (int i = order.length - 1; i > 0; i--) {
        int j = rng.nextInt(i + 1);
        long t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
    }
    int bs = args.perDeviceTrainBatchSize();
    int ws = worldSize();
    List<long[]> all = new ArrayList<>();
    for (int start = 0; start < n; start += bs) {
      int len = (int) Math.min(bs, n - start);
      if (len < bs && (args.dataloaderDropLast() || ws > 1)) {
        if (args.dataloaderDropLast()) {
          break;
        }
        // Even batches across ranks: complete the last batch from the start of the epoch (accelerate).
        long[] batch = new long[bs];
        for (int i = 0; i < bs; i++) {
          batch[i] = order[(start + i) % order.length];
        }
        all.add(batch);
        continue;
      }
      long[] batch = new long[len];
      System.arraycopy(order, start, batch, 0, len);
      all.add(batch);
    }
    if (ws > 1) {
      int rounds = args.dataloaderDropLast() ? all.size() / ws : (all.size() + ws - 1) / ws;
      List<long[]> mine = new ArrayList<>();
      for (int r = 0; r < rounds; r++) {
        int k = r * ws + rank();
        mine.add(all.get(k % all.size()));
      }
      return mine;
    }
    return all;
  }

  int batchesPerEpoch() {
    return epochBatches(0).size();
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
      return trainLoop(toDriver);
    } finally {
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

  private Map<String, Double> trainLoop(DriverChannel.Sender toDriver) {
    long start = System.nanoTime();
    Engine.getInstance().setRandomSeed((int) args.seed());
    int batchesPerEpoch = batchesPerEpoch();
    if (batchesPerEpoch == 0) {
      throw new IllegalArgumentException("the train dataset (" + trainData.numRows() + " rows) gives no batch"
          + " of " + args.perDeviceTrainBatchSize() + " per rank on " + worldSize() + " rank(s)");
    }
    int gas = args.gradientAccumulationSteps();
    long updatesPerEpoch = Math.max(1, (batchesPerEpoch + gas - 1) / gas);
    long maxSteps;
    long numEpochs;
    if (args.maxSteps() > 0) {
      maxSteps = args.maxSteps();
      numEpochs = maxSteps / updatesPerEpoch + (maxSteps % updatesPerEpoch > 0 ? 1 : 0);
    } else {
      maxSteps = (long) Math.ceil(args.numTrainEpochs() * updatesPerEpoch);
      numEpochs = (long) Math.ceil(args.numTrainEpochs());
    }
    state.maxSteps = maxSteps;
    state.numTrainEpochs = numEpochs;
    state.trainBatchSize = args.perDeviceTrainBatchSize();
    state.loggingSteps = TrainingArguments.intervalSteps(args.loggingSteps(), maxSteps);
    state.evalSteps = TrainingArguments.intervalSteps(args.evalSteps(), maxSteps);
    state.saveSteps = TrainingArguments.intervalSteps(args.saveSteps(), maxSteps);

    LrScheduler scheduler = new LrScheduler(args.lrSchedulerType(), args.learningRate(),
        args.warmupStepsFor(maxSteps), maxSteps);
    GradScaler scaler = args.fp16() ? new GradScaler() : null;
    if (group != null && group.worldSize() > 1) {
      buckets = new GradientBuckets(params, group, (long) args.ddpBucketCapMb() << 20);
      buckets.broadcastParameters(0);
    }
    List<TrainerCallback> all = new ArrayList<>(callbacks);
    long samplesPerStep = (long) args.perDeviceTrainBatchSize() * gas * worldSize();
    if (toDriver != null) {
      all.add(new DriverLogStream(toDriver, samplesPerStep)); // the driver draws the bar
    } else if (!args.disableTqdm()) {
      all.add(new ProgressBar(System.err, samplesPerStep));
    }
    try (Optimizer optimizer = newOptimizer()) {
      long epochsTrained = 0;
      long stepsToSkip = 0;
      Optional<Path> resumeFrom = resumeCheckpoint();
      if (resumeFrom.isPresent()) {
        restore(resumeFrom.get(), optimizer, scheduler, scaler);
        epochsTrained = state.globalStep / updatesPerEpoch;
        stepsToSkip = (state.globalStep % updatesPerEpoch) * gas;
        LOG.info("rank " + rank() + ": resuming from " + resumeFrom.get() + " at step " + state.globalStep);
      }
      for (TrainerCallback c : all) {
        c.onTrainBegin(args, state, control);
      }
      double trLoss = 0;
      double totalLoss = 0;
      long firstStep = state.globalStep;
      long lastLoggedStep = state.globalStep;
      for (long epoch = epochsTrained; epoch < numEpochs && !control.shouldTrainingStop; epoch++) {
        List<long[]> batches = epochBatches(epoch);
        control.shouldEpochStop = false;
        for (TrainerCallback c : all) {
          c.onEpochBegin(args, state, control);
        }
        long stepStart = System.nanoTime();
        for (int i = (int) stepsToSkip; i < batches.size(); i++) {
          if (i % gas == 0) {
            stepStart = System.nanoTime();
            // A seed per step: dropout is reproduced exactly by a resumed run.
            Engine.getInstance().setRandomSeed((int) (args.seed() + state.globalStep));
            for (TrainerCallback c : all) {
              c.onStepBegin(args, state, control);
            }
          }
          long fb = System.nanoTime();
          trLoss += forwardBackward(batches.get(i), gas, scaler);
          forwardBackwardNanos += System.nanoTime() - fb;
          boolean lastMicro = (i + 1) % gas == 0 || i + 1 == batches.size();
          if (!lastMicro) {
            continue;
          }
          long os = System.nanoTime();
          double gradNorm = optimizerStep(optimizer, scheduler, scaler);
          optimizerNanos += System.nanoTime() - os;
          state.globalStep++;
          state.epoch = epoch + (double) (i + 1) / batches.size();
          stepNanos += System.nanoTime() - stepStart;
          for (TrainerCallback c : all) {
            c.onStepEnd(args, state, control);
          }
          defaultFlowOnStepEnd();
          if (control.shouldLog) {
            double stepsLoss = meanOverRanks(trLoss);
            totalLoss += stepsLoss;
            double mean = stepsLoss / (state.globalStep - lastLoggedStep);
            state.lastStepLoss = mean;
            trLoss = 0;
            lastLoggedStep = state.globalStep;
            Map<String, Object> logs = new LinkedHashMap<>();
            logs.put("loss", Math.round(mean * 1e4) / 1e4);
            if (!Double.isNaN(gradNorm) || args.maxGradNorm() > 0) {
              logs.put("grad_norm", gradNorm);
            }
            logs.put("learning_rate", scheduler.lr());
            logs.put("epoch", state.epoch);
            double seconds = (System.nanoTime() - start) / 1e9;
            logs.put("train_samples_per_second", Math.round(
                (double) state.globalStep * args.perDeviceTrainBatchSize() * gas * worldSize() / seconds * 1000)
                / 1000.0);
            log(all, logs);
          }
          maybeEvaluateAndSave(all, optimizer, scheduler, scaler);
          if (control.shouldEpochStop || control.shouldTrainingStop) {
            break;
          }
        }
        stepsToSkip = 0;
        defaultFlowOnEpochEnd();
        if (control.shouldLog && state.globalStep > lastLoggedStep) {
          double stepsLoss = meanOverRanks(trLoss);
          totalLoss += stepsLoss;
          Map<String, Object> logs = new LinkedHashMap<>();
          logs.put("loss", Math.round(stepsLoss / (state.globalStep - lastLoggedStep) * 1e4) / 1e4);
          logs.put("learning_rate", scheduler.lr());
          logs.put("epoch", state.epoch);
          trLoss = 0;
          lastLoggedStep = state.globalStep;
          log(all, logs);
        }
        for (TrainerCallback c : all) {
          c.onEpochEnd(args, state, control);
        }
        control.shouldLog = false;
        maybeEvaluateAndSave(all, optimizer, scheduler, scaler);
      }
      if (args.loadBestModelAtEnd() && state.bestModelCheckpoint != null) {
        loadBestModel();
      }
      double runtime = (System.nanoTime() - start) / 1e9;
      Map<String, Object> end = new LinkedHashMap<>();
      end.put("train_runtime", Math.round(runtime * 1e4) / 1e4);
      end.put("train_samples_per_second",
          Math.round(state.globalStep * args.perDeviceTrainBatchSize() * gas * worldSize() / runtime * 1e3) / 1e3);
      end.put("train_steps_per_second", Math.round(state.globalStep / runtime * 1e3) / 1e3);
      // transformers: the mean of every step's loss (rank-averaged), not only of the logged ones.
      totalLoss += meanOverRanks(trLoss);
      end.put("train_loss", totalLoss / Math.max(1, state.globalStep - firstStep));
      end.put("epoch", state.epoch);
      log(all, end);
      for (TrainerCallback c : all) {
        c.onTrainEnd(args, state, control);
      }
      Map<String, Double> out = new LinkedHashMap<>();
      for (Map.Entry<String, Object> e : end.entrySet()) {
        out.put(e.getKey(), ((Number) e.getValue()).doubleValue());
      }
      out.put("global_step", (double) state.globalStep);
      return out;
    }
  }

  /** One micro-batch: forward, loss divided by the accumulation steps, backward. Returns the local loss/gas. */
  private double forwardBackward(long[] rows, int gas, GradScaler scaler) {
    // Recording is per thread; restore the caller's mode afterwards (train() may run in a notebook's thread).
    boolean wasRecording = Autograd.isEnabled();
    try (NDManager batchManager = model.manager().newSubManager()) {
      Map<String, NDArray> inputs = trainData.batch(batchManager, rows);
      Autograd.enable();
      ModelOutput out = model.forward(inputs, true);
      NDArray loss = out.loss();
      if (loss == null) {
        throw new IllegalArgumentException("the model returned no loss: the train dataset must hold labels");
      }
      loss.attach(batchManager);
      if (out.logits() != null) {
        out.logits().attach(batchManager);
      }
      float value = loss.getFloat();
      if (!Float.isFinite(value) && scaler == null) {
        throw new ArithmeticException("the loss is " + value + " at step " + (state.globalStep + 1)
            + " (rank " + rank() + "): training stopped; lower the learning rate or check the data");
      }
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

  /** All-reduce (on the last micro-step only), unscale, clip, step, schedule, zero. Returns the grad norm. */
  private double optimizerStep(Optimizer optimizer, LrScheduler scheduler, GradScaler scaler) {
    if (buckets != null) {
      buckets.allReduceMean();
    }
    boolean skip = false;
    if (scaler != null) {
      skip = scaler.unscaleAndCheck(params);
    }
    double gradNorm = Double.NaN;
    if (!skip) {
      // As transformers: no clipping and no grad_norm in the logs when max_grad_norm is 0.
      if (args.maxGradNorm() > 0) {
        gradNorm = GradClipping.clipGradNorm(params, args.maxGradNorm());
      }
      optimizer.step(scheduler.lr());
      scheduler.step();
    } else {
      LOG.warning("step " + (state.globalStep + 1) + ": gradients overflowed under fp16; the step is skipped"
          + " and the loss scale lowered to " + scaler.scale() * 0.5f);
    }
    if (scaler != null) {
      scaler.update(skip);
    }
    for (Param p : params) {
      Autograd.zeroGrad(p.array());
    }
    return gradNorm;
  }

  private Optimizer newOptimizer() {
    if ("sgd".equals(args.optim())) {
      Map<String, String> o = parseOptimArgs(args.optimArgs());
      double momentum = Double.parseDouble(o.getOrDefault("momentum", "0"));
      double dampening = Double.parseDouble(o.getOrDefault("dampening", "0"));
      boolean nesterov = Boolean.parseBoolean(o.getOrDefault("nesterov", "false").toLowerCase());
      return new Sgd(params, momentum, dampening, args.weightDecay(), nesterov);
    }
    return new AdamW(params, args.adamBeta1(), args.adamBeta2(), args.adamEpsilon(), args.weightDecay());
  }

  /** transformers' {@code optim_args}: {@code "momentum=0.9,nesterov=True"}. */
  static Map<String, String> parseOptimArgs(String s) {
    Map<String, String> m = new LinkedHashMap<>();
    if (s == null || s.isBlank()) {
      return m;
    }
    for (String part : s.split(",")) {
      String[] kv = part.split("=", 2);
      if (kv.length != 2) {
        throw new IllegalArgumentException("optim_args: expected key=value, got '" + part + "'");
      }
      String key = kv[0].trim();
      if (!List.of("momentum", "dampening", "nesterov").contains(key)) {
        throw new IllegalArgumentException("optim_args: unknown SGD argument '" + key
            + "' (valid: momentum, dampening, nesterov)");
      }
      m.put(key, kv[1].trim());
    }
    return m;
  }

  // ------------------------------------------------------------------------------------------ flow

  /** transformers' DefaultFlowCallback.on_step_end. */
  private void defaultFlowOnStepEnd() {
    long step = state.globalStep;
    if (step == 1 && args.loggingFirstStep()) {
      control.shouldLog = true;
    }
    if ("steps".equals(args.loggingStrategy()) && step % state.loggingSteps == 0) {
      control.shouldLog = true;
    }
    if ("steps".equals(args.evalStrategy()) && step % state.evalSteps == 0) {
      control.shouldEvaluate = true;
    }
    if ("steps".equals(args.saveStrategy()) && state.saveSteps > 0 && step % state.saveSteps == 0) {
      control.shouldSave = true;
    }
    if (step >= state.maxSteps) {
      control.shouldTrainingStop = true;
      if (!"no".equals(args.saveStrategy())) {
        control.shouldSave = true;
      }
    }
  }

  /** transformers' DefaultFlowCallback.on_epoch_end. */
  private void defaultFlowOnEpochEnd() {
    if ("epoch".equals(args.loggingStrategy())) {
      control.shouldLog = true;
    }
    if ("epoch".equals(args.evalStrategy())) {
      control.shouldEvaluate = true;
    }
    if ("epoch".equals(args.saveStrategy())) {
      control.shouldSave = true;
    }
  }

  private void log(List<TrainerCallback> all, Map<String, Object> logs) {
    control.shouldLog = false;
    Map<String, Object> entry = new LinkedHashMap<>(logs);
    entry.put("step", state.globalStep);
    state.logHistory.add(entry);
    if (rank() == 0 && store.isLocal()) {
      appendJsonLine(entry);
    }
    for (TrainerCallback c : all) {
      c.onLog(args, state, control, logs);
    }
  }

  private void appendJsonLine(Map<String, Object> entry) {
    try {
      Path dir = Path.of(args.outputDir());
      Files.createDirectories(dir);
      Files.writeString(dir.resolve("log_history.jsonl"), new ObjectMapper().writeValueAsString(entry) + "\n",
          StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.CREATE,
          java.nio.file.StandardOpenOption.APPEND);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private void maybeEvaluateAndSave(List<TrainerCallback> all, Optimizer optimizer, LrScheduler scheduler,
      GradScaler scaler) {
    Map<String, Double> metrics = null;
    if (control.shouldEvaluate) {
      control.shouldEvaluate = false;
      metrics = evaluate(all);
      determineBestMetric(metrics);
    }
    if (control.shouldSave) {
      control.shouldSave = false;
      saveCheckpoint(optimizer, scheduler, scaler);
      for (TrainerCallback c : all) {
        c.onSave(args, state, control);
      }
    }
  }

  private void determineBestMetric(Map<String, Double> metrics) {
    if (args.metricForBestModel() == null) {
      return;
    }
    String key = args.metricForBestModel().startsWith("eval_") ? args.metricForBestModel()
        : "eval_" + args.metricForBestModel();
    Double value = metrics.get(key);
    if (value == null) {
      throw new IllegalArgumentException("metric_for_best_model '" + args.metricForBestModel()
          + "' is not among the evaluation's metrics " + metrics.keySet());
    }
    if (state.bestMetric == null || (args.greaterIsBetter() ? value > state.bestMetric : value < state.bestMetric)) {
      state.bestMetric = value;
      state.bestGlobalStep = state.globalStep;
    }
  }

  // ------------------------------------------------------------------------------------------ evaluate

  /** Evaluates on the eval dataset: {@code eval_loss}, the compute_metrics results, runtime. */
  public Map<String, Double> evaluate() {
    return evaluate(callbacks);
  }

  private Map<String, Double> evaluate(List<TrainerCallback> all) {
    if (evalData == null) {
      throw new IllegalStateException("evaluate() needs an eval dataset: Trainer.builder().evalData(...)");
    }
    long start = System.nanoTime();
    Prediction p = predict(evalData, "eval");
    Map<String, Double> metrics = new LinkedHashMap<>(p.metrics());
    double runtime = (System.nanoTime() - start) / 1e9;
    long batches = (evalData.numRows() + args.perDeviceEvalBatchSize() - 1) / args.perDeviceEvalBatchSize();
    metrics.put("eval_runtime", Math.round(runtime * 1e4) / 1e4);
    metrics.put("eval_samples_per_second", Math.round(evalData.numRows() / runtime * 1e3) / 1e3);
    metrics.put("eval_steps_per_second", Math.round(batches / runtime * 1e3) / 1e3);
    Map<String, Object> logs = new LinkedHashMap<>(metrics);
    logs.put("epoch", state.epoch);
    log(all, logs);
    for (TrainerCallback c : all) {
      c.onEvaluate(args, state, control, metrics);
    }
    return metrics;
  }

  /** Logits, labels and metrics of a dataset, with metric keys prefixed by {@code prefix_}. */
  public record Prediction(float[][] predictions, long[][] labels, Map<String, Double> metrics) {}

  /**
   * Runs the model over every row of {@code data}, returning logits (or what the preprocess_logits_for_metrics
   * hook keeps of them) and labels in row order, the mean loss
   * when labels are present, and the compute_metrics results. On several ranks each rank computes its share
   * (batches dealt round-robin, as accelerate shards an eval dataloader) and the results are gathered, so that
   * every rank holds the whole result, equal to what one rank computes alone.
   */
  public Prediction predict(TrainingData data, String prefix) {
    int bs = args.perDeviceEvalBatchSize();
    long n = data.numRows();
    if (n > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("predict holds every row's logits in memory: " + n + " rows is too many");
    }
    float[][] predictions = new float[(int) n][];
    long[][] labels = data.columns().contains("labels") ? new long[(int) n][] : null;
    double lossSum = 0;
    boolean hasLoss = false;
    long batches = (n + bs - 1) / bs;
    int ws = worldSize();
    // Every rank runs the same number of rounds (and so the same collectives); in the last round a rank may
    // have a short batch or none. Batches are not padded with repeated rows: the gather takes uneven sizes,
    // so there are no duplicates to compute and drop, and the loss of the last batch is that of its real rows.
    long rounds = (batches + ws - 1) / ws;
    Accelerator acc = ws > 1 ? Accelerator.of(group, ai.djl.Device.cpu()) : null;
    Accelerator.MetricsGatherer logitsGatherer = acc == null ? null : acc.metricsGatherer(n);
    Accelerator.MetricsGatherer labelsGatherer = acc == null ? null : acc.metricsGatherer(n);
    long next = 0; // the first row of this round's first batch
    try (NoGrad ignored = new NoGrad()) {
      for (long round = 0; round < rounds; round++) {
        long first = (round * ws + rank()) * bs;
        int len = (int) Math.max(0, Math.min(bs, n - first));
        BatchResult mine = len == 0 ? BatchResult.EMPTY : forwardEval(data, first, len);
        if (acc == null) {
          if (mine.hasLoss) {
            lossSum += mine.loss * (double) len;
            hasLoss = true;
          }
          mine.copyInto(predictions, labels, first, len);
          continue;
        }
        // Sizes first (a rank without a batch this round does not know the model's output width).
        long[] header = acc.gather(len == 0 ? new long[0]
            : new long[] {len, mine.logitsPerRow, mine.labelsPerRow, mine.hasLoss ? 1 : 0,
                Double.doubleToRawLongBits(mine.loss)});
        int logitsPerRow = (int) header[1];
        int labelsPerRow = (int) header[2];
        float[] logits = logitsGatherer.gather(mine.logits, logitsPerRow);
        long[] lab = labels == null ? null : labelsGatherer.gather(mine.labels, labelsPerRow);
        BatchResult all = new BatchResult(logits, lab, logitsPerRow, labelsPerRow, false, 0);
        int rows = 0;
        // Rank order is batch order: the losses add up in the order one rank adds them.
        for (int h = 0; h < header.length; h += 5) {
          if (header[h + 3] == 1) {
            lossSum += Double.longBitsToDouble(header[h + 4]) * (double) header[h];
            hasLoss = true;
          }
          rows += (int) header[h];
        }
        all.copyInto(predictions, labels, next, rows);
        next += rows;
      }
    }
    Map<String, Double> metrics = new LinkedHashMap<>();
    if (hasLoss) {
      metrics.put(prefix + "_loss", lossSum / n);
    }
    if (computeMetrics != null && labels != null) {
      for (Map.Entry<String, Double> e : computeMetrics.compute(new EvalPrediction(predictions, labels))
          .entrySet()) {
        String key = e.getKey().startsWith(prefix + "_") ? e.getKey() : prefix + "_" + e.getKey();
        metrics.put(key, e.getValue());
      }
    }
    return new Prediction(predictions, labels, metrics);
  }

  /** One evaluation batch's outputs: flat logits and labels, and the batch's mean loss (as a float). */
  private record BatchResult(float[] logits, long[] labels, int logitsPerRow, int labelsPerRow, boolean hasLoss,
      double loss) {
    static final BatchResult EMPTY = new BatchResult(new float[0], new long[0], 0, 0, false, 0);

    void copyInto(float[][] predictions, long[][] allLabels, long firstRow, int rows) {
      for (int i = 0; i < rows; i++) {
        predictions[(int) firstRow + i] = java.util.Arrays.copyOfRange(logits, i * logitsPerRow,
            (i + 1) * logitsPerRow);
        if (allLabels != null) {
          allLabels[(int) firstRow + i] = java.util.Arrays.copyOfRange(labels, i * labelsPerRow,
              (i + 1) * labelsPerRow);
        }
      }
    }
  }

  private BatchResult forwardEval(TrainingData data, long first, int len) {
    long[] rows = new long[len];
    for (int i = 0; i < len; i++) {
      rows[i] = first + i;
    }
    try (NDManager m = model.manager().newSubManager()) {
      Map<String, NDArray> inputs = data.batch(m, rows);
      ModelOutput out = model.forward(inputs, false);
      out.logits().attach(m);
      boolean hasLoss = out.loss() != null;
      double loss = 0;
      if (hasLoss) {
        out.loss().attach(m);
        loss = out.loss().getFloat();
      }
      NDArray l = inputs.get("labels");
      NDArray kept = out.logits();
      if (preprocessLogits != null) {
        kept = preprocessLogits.apply(kept, l);
        kept.attach(m);
        if (kept.getShape().dimension() == 0 || kept.getShape().get(0) != len) {
          throw new IllegalArgumentException("preprocess_logits_for_metrics must return one row per batch row: "
              + "got shape " + kept.getShape() + " for a batch of " + len + " rows");
        }
      }
      float[] logits = kept.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
      long[] labels = new long[0];
      int labelsPerRow = 0;
      if (l != null) {
        labels = l.toType(ai.djl.ndarray.types.DataType.INT64, false).toLongArray();
        labelsPerRow = labels.length / len;
      }
      return new BatchResult(logits, labels, (int) (logits.length / len), labelsPerRow, hasLoss, loss);
    }
  }

  // ------------------------------------------------------------------------------------------ checkpoints

  private void saveCheckpoint(Optimizer optimizer, LrScheduler scheduler, GradScaler scaler) {
    long step = state.globalStep;
    if (state.bestGlobalStep != null && state.bestGlobalStep == step) {
      state.bestModelCheckpoint = store.location(step);
    }
    if (rank() == 0) {
      try {
        store.save(step, folder -> writeCheckpoint(folder, optimizer, scheduler, scaler));
        if (args.saveTotalLimit() != null && args.saveTotalLimit() > 0) {
          store.rotate(args.saveTotalLimit(), state.bestModelCheckpoint);
        }
      } catch (IOException e) {
        throw new UncheckedIOException("could not save checkpoint-" + step + " to " + args.outputDir(), e);
      }
    }
    if (group != null) {
      group.barrier();
    }
  }

  private void writeCheckpoint(Path folder, Optimizer optimizer, LrScheduler scheduler, GradScaler scaler)
      throws IOException {
    model.savePretrained(folder);
    SafeTensorsWriter.write(folder.resolve("optimizer.safetensors"), optimizer.state(), Map.of("optim", args.optim()));
    Map<String, Object> sched = new LinkedHashMap<>();
    sched.put("lr_scheduler_type", scheduler.type());
    sched.put("base_lrs", List.of(scheduler.baseLr()));
    sched.put("last_epoch", scheduler.lastEpoch());
    sched.put("_last_lr", List.of(scheduler.lr()));
    JSON.writeValue(folder.resolve("scheduler.json").toFile(), sched);
    if (scaler != null) {
      JSON.writeValue(folder.resolve("scaler.json").toFile(),
          Map.of("scale", scaler.scale(), "_growth_tracker", scaler.growthTracker()));
    }
    for (int r = 0; r < worldSize(); r++) {
      Map<String, Object> rng = new LinkedHashMap<>();
      rng.put("rank", r);
      rng.put("seed", args.seed());
      rng.put("data_seed", args.dataSeed());
      rng.put("global_step", state.globalStep);
      rng.put("epoch", state.epoch);
      JSON.writeValue(folder.resolve(worldSize() == 1 ? "rng_state.json" : "rng_state_" + r + ".json").toFile(),
          rng);
    }
    JSON.writeValue(folder.resolve("training_args.json").toFile(), args.toMap());
    Files.writeString(folder.resolve("trainer_state.json"), state.toJson(), StandardCharsets.UTF_8);
  }

  private Optional<Path> resumeCheckpoint() {
    String r = args.resumeFromCheckpoint();
    try {
      if (r == null || r.equalsIgnoreCase("false")) {
        // A retried Spark stage resumes from the newest complete checkpoint by itself.
        if (group != null && retriedAttempt()) {
          return store.newestComplete();
        }
        return Optional.empty();
      }
      if (r.equalsIgnoreCase("true") || r.equalsIgnoreCase("last")) {
        Optional<Path> p = store.newestComplete();
        if (p.isEmpty()) {
          throw new IllegalArgumentException("resume_from_checkpoint=" + r + ": no valid checkpoint found in "
              + args.outputDir());
        }
        return p;
      }
      Path p = Path.of(r);
      String problem = CheckpointStore.verify(p);
      if (problem != null) {
        throw new IllegalArgumentException("resume_from_checkpoint=" + r + ": " + problem);
      }
      return Optional.of(p);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** True inside a Spark task that is not the stage's first attempt. */
  private static boolean retriedAttempt() {
    try {
      org.apache.spark.TaskContext tc = org.apache.spark.TaskContext.get();
      return tc != null && (tc.stageAttemptNumber() > 0 || tc.attemptNumber() > 0);
    } catch (NoClassDefFoundError e) {
      return false;
    }
  }

  private void restore(Path folder, Optimizer optimizer, LrScheduler scheduler, GradScaler scaler) {
    try {
      loadWeights(folder);
      NDManager m = model.manager().newSubManager();
      try (m) {
        Map<String, NDArray> opt = new LinkedHashMap<>();
        try (SafeTensorsFile f = SafeTensorsFile.open(folder.resolve("optimizer.safetensors"))) {
          for (String name : f.names()) {
            opt.put(name, f.load(name, m));
          }
        }
        optimizer.loadState(opt);
      }
      @SuppressWarnings("unchecked")
      Map<String, Object> sched = JSON.readValue(folder.resolve("scheduler.json").toFile(), Map.class);
      scheduler.setLastEpoch(((Number) sched.get("last_epoch")).longValue());
      if (scaler != null && Files.exists(folder.resolve("scaler.json"))) {
        @SuppressWarnings("unchecked")
        Map<String, Object> s = JSON.readValue(folder.resolve("scaler.json").toFile(), Map.class);
        scaler.load(((Number) s.get("scale")).floatValue(), ((Number) s.get("_growth_tracker")).intValue());
      }
      TrainerState saved = TrainerState.fromJson(
          Files.readString(folder.resolve("trainer_state.json")), folder.resolve("trainer_state.json").toString());
      state.globalStep = saved.globalStep;
      state.epoch = saved.epoch;
      state.bestMetric = saved.bestMetric;
      state.bestGlobalStep = saved.bestGlobalStep;
      state.bestModelCheckpoint = saved.bestModelCheckpoint;
      state.logHistory.clear();
      state.logHistory.addAll(saved.logHistory);
    } catch (IOException e) {
      throw new UncheckedIOException("could not resume from " + folder, e);
    }
  }

  /** Overwrites the model's parameters with {@code model.safetensors} of a checkpoint, in place. */
  void loadWeights(Path folder) throws IOException {
    Path file = folder.resolve("model.safetensors");
    try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
      for (Param p : params) {
        Views.copyInto(f, p.name(), p.array());
      }
    }
  }

  /** Rank 0 reads the best checkpoint's weights and broadcasts them (other ranks may not reach its disk). */
  private void loadBestModel() {
    try {
      if (rank() == 0) {
        Path local = store.isLocal() ? Path.of(state.bestModelCheckpoint)
            : store.fetchVerified(Long.parseLong(state.bestModelCheckpoint
                .substring(state.bestModelCheckpoint.lastIndexOf('-') + 1))).orElseThrow();
        loadWeights(local);
      }
      if (buckets != null) {
        buckets.broadcastParameters(0);
      }
      LOG.info("loaded the best model from " + state.bestModelCheckpoint + " (" + args.metricForBestModel()
          + " = " + state.bestMetric + ")");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Writes the model (config.json, model.safetensors) into {@code folder} (rank 0 only). */
  public void saveModel(Path folder) throws IOException {
    if (rank() == 0) {
      Files.createDirectories(folder);
      model.savePretrained(folder);
    }
  }

  // ------------------------------------------------------------------------------------------ ranks

  /** The mean of a value over the ranks, through an all-gather of its float64 bits. */
  private double meanOverRanks(double value) {
    if (group == null || group.worldSize() == 1) {
      return value;
    }
    ByteBuffer in = ByteBuffer.allocateDirect(8).order(ByteOrder.nativeOrder());
    in.putLong(0, Double.doubleToRawLongBits(value));
    ByteBuffer out = ByteBuffer.allocateDirect(8 * group.worldSize()).order(ByteOrder.nativeOrder());
    group.allGather(in, out, ElementType.INT64);
    double sum = 0;
    for (int r = 0; r < group.worldSize(); r++) {
      sum += Double.longBitsToDouble(out.getLong(r * 8));
    }
    return sum / group.worldSize();
  }

  /** SHA-256 over every parameter's bytes, in parameter order: equal on ranks holding identical weights. */
  public String parameterChecksum() {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      for (Param p : params) {
        md.update(Views.view(p.array()).duplicate());
      }
      return HexFormat.of().formatHex(md.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    // The model and the process group belong to the caller; the optimizer is closed by train().
  }

  /** Builds a {@link Trainer}. */
  public static final class Builder {
    private final PreTrainedModel model;
    private final TrainingArguments args;
    private TrainingData trainData;
    private TrainingData evalData;
    private ComputeMetrics computeMetrics;
    private PreprocessLogits preprocessLogits;
    private final List<TrainerCallback> callbacks = new ArrayList<>();
    private ProcessGroup group;
    private boolean shuffle = true;
    private Configuration hadoopConf;
    private int intraOpThreads;

    private Builder(PreTrainedModel model, TrainingArguments args) {
      this.model = model;
      this.args = args;
    }

    public Builder trainData(TrainingData v) { trainData = v; return this; }
    public Builder evalData(TrainingData v) { evalData = v; return this; }
    public Builder computeMetrics(ComputeMetrics v) { computeMetrics = v; return this; }
    /** Reduces each evaluation batch's logits before they are kept (transformers' preprocess_logits_for_metrics). */
    public Builder preprocessLogitsForMetrics(PreprocessLogits v) { preprocessLogits = v; return this; }
    public Builder callback(TrainerCallback v) { callbacks.add(v); return this; }
    /** The ranks to train with; none (or world size 1) trains on this thread alone. */
    public Builder processGroup(ProcessGroup v) { group = v; return this; }
    /** Whether each epoch visits the rows in a seeded random order (true, as transformers) or in order. */
    public Builder shuffle(boolean v) { shuffle = v; return this; }
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
      if (model == null || args == null) {
        throw new IllegalArgumentException("a Trainer needs a model and TrainingArguments");
      }
      if (trainData == null && evalData == null) {
        throw new IllegalArgumentException("a Trainer needs a train or an eval dataset");
      }
      return new Trainer(this);
    }
  }
}
