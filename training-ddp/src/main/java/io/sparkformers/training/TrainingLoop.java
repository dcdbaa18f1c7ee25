package io.sparkformers.training;

import ai.djl.ndarray.NDManager;
import io.sparkformers.accelerate.DriverChannel;
import io.sparkformers.accelerate.ElementType;
import io.sparkformers.datasets.EpochSampler;
import io.sparkformers.training.ddp.GradientBuckets;
import io.sparkformers.training.internal.Autograd;
import io.sparkformers.training.internal.BackwardSegments;
import io.sparkformers.training.internal.TorchRandom;
import io.sparkformers.training.optim.GradClipping;
import io.sparkformers.training.optim.GradScaler;
import io.sparkformers.training.optim.Optimizer;
import io.sparkformers.training.optim.Param;
import io.sparkformers.training.schedule.LrScheduler;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Logger;

/**
 * One {@link Trainer#train()} run (transformers' {@code _inner_training_loop}): epochs of this rank's batches,
 * micro-steps through {@link Trainer#trainingStep}, the optimizer step with the gradients averaged across
 * ranks, and the callbacks' decisions (log, evaluate, save, stop) acted on after each step and epoch.
 */
final class TrainingLoop {
  private static final Logger LOG = Logger.getLogger(Trainer.class.getName());
  private final Trainer t;
  private final DriverChannel.Sender toDriver;
  /** Rank-averaged sum of every finished step's loss that has been logged (or saved) so far, all attempts. */
  private double totalLoss;
  /** This rank's loss of the steps since the last log. */
  private double trLoss;
  /** Training seconds of earlier attempts, up to the checkpoint this run resumed from. */
  private double priorRuntime;
  /** Steps whose losses are not in {@link #totalLoss}: those before a checkpoint that did not record its sum. */
  private long stepsWithoutLoss;
  private long start;

  TrainingLoop(Trainer trainer, DriverChannel.Sender toDriver) {
    this.t = trainer;
    this.toDriver = toDriver;
  }

  /** Trains as configured and returns the final metrics (train_loss, train_runtime, ...). */
  Map<String, Double> run() {
    start = System.nanoTime();
    TorchRandom.manualSeed(t.args.seed());
    EpochSampler sampler = sampler();
    long batchesPerEpoch = sampler.batchesPerEpoch();
    if (batchesPerEpoch == 0) {
      throw new IllegalArgumentException("the train dataset (" + t.trainData.numRows() + " rows) gives no batch"
          + " of " + t.args.perDeviceTrainBatchSize() + " per rank on " + t.worldSize() + " rank(s)");
    }
    int gas = t.args.gradientAccumulationSteps();
    long updatesPerEpoch = Math.max(1, (batchesPerEpoch + gas - 1) / gas);
    long maxSteps = t.args.maxSteps() > 0 ? t.args.maxSteps() : (long) Math.ceil(t.args.numTrainEpochs() * updatesPerEpoch);
    long numEpochs = t.args.maxSteps() > 0 ? (maxSteps + updatesPerEpoch - 1) / updatesPerEpoch
        : (long) Math.ceil(t.args.numTrainEpochs());
    t.state.maxSteps = maxSteps;
    t.state.numTrainEpochs = numEpochs;
    t.state.trainBatchSize = t.args.perDeviceTrainBatchSize();
    t.state.loggingSteps = TrainingArguments.intervalSteps(t.args.loggingSteps(), maxSteps);
    t.state.evalSteps = TrainingArguments.intervalSteps(t.args.evalSteps(), maxSteps);
    t.state.saveSteps = TrainingArguments.intervalSteps(t.args.saveSteps(), maxSteps);

    LrScheduler scheduler = new LrScheduler(t.args.lrSchedulerType(), t.args.learningRate(),
        t.args.warmupStepsFor(maxSteps), maxSteps);
    t.scaler = t.args.fp16() ? new GradScaler() : null;
    if (t.group != null && t.group.worldSize() > 1) {
      t.buckets = new GradientBuckets(t.params, t.group, (long) t.args.ddpBucketCapMb() << 20);
      t.buckets.broadcastParameters(0);
    }
    // transformers' order: the default flow first, then the caller's t.callbacks, then the progress display.
    List<TrainerCallback> all = new ArrayList<>(List.of(new DefaultFlowCallback(), t.timing));
    if (t.rank() == 0 && t.store.isLocal()) {
      all.add(new LogHistoryFile(Path.of(t.args.outputDir()).resolve("log_history.jsonl")));
    }
    all.addAll(t.callbacks);
    long samplesPerStep = (long) t.args.perDeviceTrainBatchSize() * gas * t.worldSize();
    if (toDriver != null) {
      all.add(new DriverLogStream(toDriver, samplesPerStep)); // the driver draws the bar
    } else if (!t.args.disableTqdm()) {
      all.add(new ProgressBar(System.err, samplesPerStep));
    } else {
      all.add(new LogPrinter(System.err));
    }
    try (Optimizer optimizer = t.createOptimizer(t.params)) {
      long epochsTrained = 0;
      long stepsToSkip = 0;
      Optional<Path> resumeFrom = t.checkpoints.resumeFrom();
      if (resumeFrom.isPresent()) {
        TrainingCheckpoints.RunTotals totals = t.checkpoints.restore(resumeFrom.get(), optimizer, scheduler,
            t.scaler);
        if (totals != null) {
          totalLoss = totals.lossSum();
          priorRuntime = totals.runtimeSeconds();
        } else {
          stepsWithoutLoss = t.state.globalStep;
        }
        t.checkpoints.restoreDataState(resumeFrom.get(), t.trainData);
        epochsTrained = t.state.globalStep / updatesPerEpoch;
        stepsToSkip = (t.state.globalStep % updatesPerEpoch) * gas;
        LOG.info("rank " + t.rank() + ": resuming from " + resumeFrom.get() + " at step " + t.state.globalStep);
      }
      all.forEach(c -> c.onTrainBegin(t.args, t.state, t.control));
      trLoss = 0;
      long lastLoggedStep = t.state.globalStep;
      for (long epoch = epochsTrained; epoch < numEpochs && !t.control.shouldTrainingStop; epoch++) {
        List<long[]> batches = sampler.batches(epoch);
        t.control.shouldEpochStop = false;
        all.forEach(c -> c.onEpochBegin(t.args, t.state, t.control));
        for (int i = (int) stepsToSkip; i < batches.size(); i++) {
          if (i % gas == 0) {
            // A seed per step: dropout is reproduced exactly by a resumed run, and by every run of ranks
            // that share one JVM's generator.
            TorchRandom.manualSeed(t.args.seed() + t.state.globalStep);
            TorchRandom.beginStep(t.args.seed() + t.state.globalStep);
            all.forEach(c -> c.onStepBegin(t.args, t.state, t.control));
          }
          boolean lastMicroStep = (i + 1) % gas == 0 || i + 1 == batches.size();
          // The step whose backward finishes the gradients can put buckets on the wire while it runs.
          try (NDManager batchManager = t.model.manager().newSubManager();
              BackwardSegments overlap = lastMicroStep && t.buckets != null && t.args.ddpOverlapBackward()
                  ? t.buckets.overlapNextBackward() : null) {
            trLoss += t.trainingStep(t.model, t.trainData.batch(batchManager, batches.get(i)));
          }
          if (!lastMicroStep) {
            continue;
          }
          all.forEach(c -> c.onPreOptimizerStep(t.args, t.state, t.control));
          double gradNorm = optimizerStep(optimizer, scheduler);
          all.forEach(c -> c.onOptimizerStep(t.args, t.state, t.control));
          t.state.globalStep++;
          t.state.epoch = epoch + (double) (i + 1) / batches.size();
          all.forEach(c -> c.onStepEnd(t.args, t.state, t.control));
          if (t.control.shouldLog) {
            double stepsLoss = meanOverRanks(trLoss);
            totalLoss += stepsLoss;
            double mean = stepsLoss / (t.state.globalStep - lastLoggedStep);
            t.state.lastStepLoss = mean;
            trLoss = 0;
            lastLoggedStep = t.state.globalStep;
            Map<String, Object> logs = new LinkedHashMap<>();
            logs.put("loss", Math.round(mean * 1e4) / 1e4);
            if (!Double.isNaN(gradNorm) || t.args.maxGradNorm() > 0) {
              logs.put("grad_norm", gradNorm);
            }
            logs.put("learning_rate", scheduler.lr());
            logs.put("epoch", t.state.epoch);
            double seconds = runtimeSoFar();
            logs.put("train_samples_per_second",
                Math.round((double) t.state.globalStep * samplesPerStep / seconds * 1000) / 1000.0);
            t.log(all, logs);
          }
          maybeEvaluateAndSave(all, optimizer, scheduler);
          if (t.control.shouldEpochStop || t.control.shouldTrainingStop) {
            break;
          }
        }
        stepsToSkip = 0;
        all.forEach(c -> c.onEpochEnd(t.args, t.state, t.control));
        if (t.control.shouldLog && t.state.globalStep > lastLoggedStep) {
          double stepsLoss = meanOverRanks(trLoss);
          totalLoss += stepsLoss;
          Map<String, Object> logs = new LinkedHashMap<>();
          logs.put("loss", Math.round(stepsLoss / (t.state.globalStep - lastLoggedStep) * 1e4) / 1e4);
          logs.put("learning_rate", scheduler.lr());
          logs.put("epoch", t.state.epoch);
          trLoss = 0;
          lastLoggedStep = t.state.globalStep;
          t.log(all, logs);
        }
        t.control.shouldLog = false;
        maybeEvaluateAndSave(all, optimizer, scheduler);
      }
      if (t.args.loadBestModelAtEnd() && t.state.bestModelCheckpoint != null) {
        loadBestModel();
      }
      // Over all attempts: each step counted once, the work lost to a failure after the last checkpoint not
      // counted, so a resumed run reports what an uninterrupted one would.
      double runtime = runtimeSoFar();
      Map<String, Object> end = new LinkedHashMap<>();
      end.put("train_runtime", Math.round(runtime * 1e4) / 1e4);
      end.put("train_samples_per_second", Math.round(t.state.globalStep * samplesPerStep / runtime * 1e3) / 1e3);
      end.put("train_steps_per_second", Math.round(t.state.globalStep / runtime * 1e3) / 1e3);
      // transformers: the mean of every step's loss (rank-averaged), not only of the logged ones.
      totalLoss += meanOverRanks(trLoss);
      end.put("train_loss", totalLoss / Math.max(1, t.state.globalStep - stepsWithoutLoss));
      end.put("epoch", t.state.epoch);
      t.log(all, end);
      all.forEach(c -> c.onTrainEnd(t.args, t.state, t.control));
      Map<String, Double> out = new LinkedHashMap<>();
      end.forEach((k, v) -> out.put(k, ((Number) v).doubleValue()));
      out.put("global_step", (double) t.state.globalStep);
      return out;
    }
  }

  /** All-reduce (on the last micro-step only), unscale, clip, step, schedule, zero. Returns the grad norm. */
  private double optimizerStep(Optimizer optimizer, LrScheduler scheduler) {
    if (t.buckets != null) {
      t.buckets.allReduceMean();
    }
    boolean skip = t.scaler != null && t.scaler.unscaleAndCheck(t.params);
    double gradNorm = Double.NaN;
    if (!skip) {
      // As transformers: no clipping and no grad_norm in the logs when max_grad_norm is 0.
      if (t.args.maxGradNorm() > 0) {
        gradNorm = GradClipping.clipGradNorm(t.params, t.args.maxGradNorm());
      }
      optimizer.step(scheduler.lr());
      scheduler.step();
    } else {
      LOG.warning("step " + (t.state.globalStep + 1) + ": gradients overflowed under fp16; the step is skipped"
          + " and the loss scale lowered to " + t.scaler.scale() * 0.5f);
    }
    if (t.scaler != null) {
      t.scaler.update(skip);
    }
    for (Param p : t.params) {
      Autograd.zeroGrad(p.array());
    }
    return gradNorm;
  }

  private void maybeEvaluateAndSave(List<TrainerCallback> all, Optimizer optimizer, LrScheduler scheduler) {
    if (t.control.shouldEvaluate) {
      t.control.shouldEvaluate = false;
      determineBestMetric(t.evaluate(all));
    }
    if (t.control.shouldSave) {
      t.control.shouldSave = false;
      // The loss sum is a collective's result: every rank saves at the same steps.
      double lossSum = totalLoss + meanOverRanks(trLoss);
      t.checkpoints.save(optimizer, scheduler, t.scaler,
          new TrainingCheckpoints.RunTotals(lossSum, runtimeSoFar()), t.trainData);
      all.forEach(c -> c.onSave(t.args, t.state, t.control));
    }
  }

  private void determineBestMetric(Map<String, Double> metrics) {
    if (t.args.metricForBestModel() == null) {
      return;
    }
    String key = t.args.metricForBestModel().startsWith("eval_") ? t.args.metricForBestModel()
        : "eval_" + t.args.metricForBestModel();
    Double value = metrics.get(key);
    if (value == null) {
      throw new IllegalArgumentException("metric_for_best_model '" + t.args.metricForBestModel()
          + "' is not among the evaluation's metrics " + metrics.keySet());
    }
    if (t.state.bestMetric == null || (t.args.greaterIsBetter() ? value > t.state.bestMetric : value < t.state.bestMetric)) {
      t.state.bestMetric = value;
      t.state.bestGlobalStep = t.state.globalStep;
    }
  }

  /** Rank 0 reads the best checkpoint's weights and broadcasts them (other ranks may not reach its disk). */
  private void loadBestModel() {
    try {
      if (t.rank() == 0) {
        t.checkpoints.loadWeights(t.checkpoints.bestCheckpointFolder());
      }
      if (t.buckets != null) {
        t.buckets.broadcastParameters(0);
      }
      LOG.info("loaded the best t.model from " + t.state.bestModelCheckpoint + " (" + t.args.metricForBestModel()
          + " = " + t.state.bestMetric + ")");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Seconds trained: this attempt's and those of the attempts before the checkpoint it resumed from. */
  private double runtimeSoFar() {
    return priorRuntime + (System.nanoTime() - start) / 1e9;
  }

  /** The mean of a value over the ranks, through an all-gather of its float64 bits. */
  private double meanOverRanks(double value) {
    if (t.group == null || t.group.worldSize() == 1) {
      return value;
    }
    ByteBuffer in = ByteBuffer.allocateDirect(8).order(ByteOrder.nativeOrder());
    in.putLong(0, Double.doubleToRawLongBits(value));
    ByteBuffer out = ByteBuffer.allocateDirect(8 * t.group.worldSize()).order(ByteOrder.nativeOrder());
    t.group.allGather(in, out, ElementType.INT64);
    double sum = 0;
    for (int r = 0; r < t.group.worldSize(); r++) {
      sum += Double.longBitsToDouble(out.getLong(r * 8));
    }
    return sum / t.group.worldSize();
  }

  /** This rank's batches of each epoch: shuffled by data_seed, dealt round-robin, even across ranks. */
  private EpochSampler sampler() {
    if (t.rankShards && t.worldSize() > 1) {
      return shardSampler();
    }
    return EpochSampler.builder(t.trainData.numRows()).batchSize(t.args.perDeviceTrainBatchSize())
        .order(t.shuffle ? EpochSampler.Order.SPLITTABLE_RANDOM_SHUFFLE : EpochSampler.Order.SEQUENTIAL,
            t.args.dataSeed())
        .lastBatch(t.args.dataloaderDropLast() ? EpochSampler.LastBatch.DROP
            : t.worldSize() > 1 ? EpochSampler.LastBatch.COMPLETE : EpochSampler.LastBatch.KEEP)
        .rank(t.rank(), t.worldSize()).build();
  }

  /**
   * The sampler over this rank's own shard: its rows shuffled by data_seed and the epoch, as many batches on
   * every rank (the largest shard decides and the smaller ones wrap around; the smallest under drop_last), so
   * that no rank waits in a collective that another never reaches.
   */
  private EpochSampler shardSampler() {
    long[] rows = rowsOnEveryRank(t.trainData.numRows());
    int bs = t.args.perDeviceTrainBatchSize();
    long most = 0;
    long fewest = Long.MAX_VALUE;
    for (int r = 0; r < rows.length; r++) {
      if (rows[r] == 0) {
        throw new IllegalArgumentException("rank " + r + " holds no train rows (the shards hold "
            + java.util.Arrays.toString(rows) + " rows): give more rows than ranks");
      }
      most = Math.max(most, rows[r]);
      fewest = Math.min(fewest, rows[r]);
    }
    long batches = t.args.dataloaderDropLast() ? fewest / bs : (most + bs - 1) / bs;
    if (batches == 0) {
      throw new IllegalArgumentException("the smallest train shard (" + fewest + " rows) gives no batch of " + bs
          + " under dataloader_drop_last; the shards hold " + java.util.Arrays.toString(rows) + " rows");
    }
    return EpochSampler.builder(t.trainData.numRows()).batchSize(bs)
        .order(t.shuffle ? EpochSampler.Order.SPLITTABLE_RANDOM_SHUFFLE : EpochSampler.Order.SEQUENTIAL,
            t.args.dataSeed())
        .lastBatch(EpochSampler.LastBatch.COMPLETE).batchesPerEpoch(batches).build();
  }

  /** Every rank's value of {@code mine}, in rank order (an all-gather). */
  private long[] rowsOnEveryRank(long mine) {
    int ws = t.group.worldSize();
    ByteBuffer in = ByteBuffer.allocateDirect(8).order(ByteOrder.nativeOrder());
    in.putLong(0, mine);
    ByteBuffer out = ByteBuffer.allocateDirect(8 * ws).order(ByteOrder.nativeOrder());
    t.group.allGather(in, out, ElementType.INT64);
    long[] all = new long[ws];
    for (int r = 0; r < ws; r++) {
      all[r] = out.getLong(r * 8);
    }
    return all;
  }
}
