package io.sparkformers.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.sparkformers.accelerate.Accelerator;
import io.sparkformers.accelerate.ProcessGroup;
import io.sparkformers.training.internal.NoGrad;
import io.sparkformers.training.models.ModelOutput;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The evaluation loop of the Trainer (transformers' {@code evaluation_loop}): runs a prediction step over every
 * row of a dataset, gathers each batch's logits (or what preprocess_logits_for_metrics makes of them) and labels
 * across ranks, and computes the mean loss and compute_metrics. On several ranks each rank takes its share of
 * the batches (dealt round-robin, as accelerate shards an evaluation dataloader) and every rank ends with the
 * whole result, equal to what one rank computes alone.
 *
 * <p>{@link #predict} keeps every row; {@link #evaluate} (batch_eval_metrics) hands each step's gathered rows to
 * a {@link BatchMetrics} and keeps none, so that its memory does not grow with the dataset.
 */
final class Predictor {
  private final NDManager modelManager;
  private final int batchSize;
  private final ProcessGroup group;
  private final PreprocessLogits preprocessLogits;
  private final ComputeMetrics computeMetrics;
  private final Supplier<? extends BatchMetrics> batchMetrics;
  private final Function<Map<String, NDArray>, ModelOutput> predictionStep;
  private final boolean rankShards;

  /** Why a one-shot compute_metrics cannot serve batch_eval_metrics. */
  static final String ONE_SHOT_UNDER_BATCH_EVAL = "batch_eval_metrics=true calls compute_metrics batch by batch:"
      + " give it as Trainer.builder().batchMetrics(...), which accumulates, instead of computeMetrics(...)";

  /**
   * @param predictionStep one batch's forward pass without gradients: logits, and the loss when the inputs
   *     hold labels (the Trainer's {@code predictionStep})
   */
  Predictor(NDManager modelManager, int batchSize, ProcessGroup group, PreprocessLogits preprocessLogits,
      ComputeMetrics computeMetrics, Function<Map<String, NDArray>, ModelOutput> predictionStep) {
    this(modelManager, batchSize, group, preprocessLogits, computeMetrics, predictionStep, false);
  }

  /** With {@code rankShards}, each dataset holds this rank's evaluation batches only (see the Trainer's). */
  Predictor(NDManager modelManager, int batchSize, ProcessGroup group, PreprocessLogits preprocessLogits,
      ComputeMetrics computeMetrics, Function<Map<String, NDArray>, ModelOutput> predictionStep,
      boolean rankShards) {
    this(modelManager, batchSize, group, preprocessLogits, computeMetrics, null, predictionStep, rankShards);
  }

  /** With {@code batchMetrics} (a fresh accumulator per pass) as compute_metrics; at most one of the two. */
  Predictor(NDManager modelManager, int batchSize, ProcessGroup group, PreprocessLogits preprocessLogits,
      ComputeMetrics computeMetrics, Supplier<? extends BatchMetrics> batchMetrics,
      Function<Map<String, NDArray>, ModelOutput> predictionStep, boolean rankShards) {
    if (computeMetrics != null && batchMetrics != null) {
      throw new IllegalArgumentException("give compute_metrics either as computeMetrics (one call with every row)"
          + " or as batchMetrics (accumulated batch by batch), not both");
    }
    this.modelManager = modelManager;
    this.batchSize = batchSize;
    this.group = group;
    this.preprocessLogits = preprocessLogits;
    this.computeMetrics = computeMetrics;
    this.batchMetrics = batchMetrics;
    this.predictionStep = predictionStep;
    this.rankShards = rankShards;
  }

  private int rank() {
    return group == null ? 0 : group.rank();
  }

  private int worldSize() {
    return group == null ? 1 : group.worldSize();
  }

  /** What an evaluation pass gives: the metrics and the number of rows (every rank's) it covered. */
  record Evaluation(Map<String, Double> metrics, long rows) {
    static Evaluation of(Trainer.Prediction p) {
      return new Evaluation(p.metrics(), p.predictions().length);
    }
  }

  /**
   * Logits, labels and metrics of {@code data}, with metric keys prefixed by {@code prefix_}. Every row is kept;
   * a {@link BatchMetrics} is still fed batch by batch.
   */
  Trainer.Prediction predict(TrainingData data, String prefix) {
    Pass pass = new Pass(data);
    long n = pass.n;
    if (n > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("predict holds every row's logits in memory: " + n + " rows is too many"
          + " (batch_eval_metrics evaluates without keeping them)");
    }
    float[][] predictions = new float[(int) n][];
    long[][] labels = pass.hasLabels ? new long[(int) n][] : null;
    BatchMetrics accumulator = batchMetrics != null && labels != null ? batchMetrics.get() : null;
    pass.run(data, (batch, firstRow, rows) -> {
      batch.copyInto(predictions, labels, firstRow, rows);
      if (accumulator != null) {
        accumulator.update(batch.toEvalPrediction(rows));
      }
    });
    Map<String, Double> computed = null;
    if (computeMetrics != null && labels != null) {
      computed = computeMetrics.compute(new EvalPrediction(predictions, labels));
    } else if (accumulator != null) {
      computed = accumulator.compute();
    }
    return new Trainer.Prediction(predictions, labels, metrics(prefix, pass, computed));
  }

  /**
   * The loss and metrics of {@code data} without keeping its rows (batch_eval_metrics): each step's gathered
   * rows go to a fresh {@link BatchMetrics} and are dropped, so that memory is that of one step's rows (at most
   * the eval batch size times the world size) whatever the number of rows.
   */
  Evaluation evaluate(TrainingData data, String prefix) {
    if (computeMetrics != null) {
      throw new IllegalStateException(ONE_SHOT_UNDER_BATCH_EVAL);
    }
    Pass pass = new Pass(data);
    BatchMetrics accumulator = batchMetrics != null && pass.hasLabels ? batchMetrics.get() : null;
    // Without an accumulator nothing reads the rows: they are not even gathered.
    pass.run(data, accumulator == null ? null
        : (batch, firstRow, rows) -> accumulator.update(batch.toEvalPrediction(rows)));
    return new Evaluation(metrics(prefix, pass, accumulator == null ? null : accumulator.compute()), pass.n);
  }

  private static Map<String, Double> metrics(String prefix, Pass pass, Map<String, Double> computed) {
    Map<String, Double> metrics = new LinkedHashMap<>();
    if (pass.hasLoss) {
      metrics.put(prefix + "_loss", pass.lossSum / pass.n);
    }
    if (computed != null) {
      for (Map.Entry<String, Double> e : computed.entrySet()) {
        String key = e.getKey().startsWith(prefix + "_") ? e.getKey() : prefix + "_" + e.getKey();
        metrics.put(key, e.getValue());
      }
    }
    return metrics;
  }

  /** Receives each step's rows, every rank's, in row order. */
  private interface RowSink {
    void accept(BatchResult batch, long firstRow, int rows);
  }

  /** One pass over a dataset: the rounds of batches, the summed loss, and where each step's rows go. */
  private final class Pass {
    final long n; // every rank's rows
    final long local; // this rank's rows
    final boolean sharded;
    final boolean hasLabels;
    final Accelerator acc;
    double lossSum;
    boolean hasLoss;

    Pass(TrainingData data) {
      int ws = worldSize();
      acc = ws > 1 ? Accelerator.of(group, ai.djl.Device.cpu()) : null;
      sharded = rankShards && acc != null;
      local = data.numRows();
      // A rank's shard holds the evaluation batches rank, rank + ws, ...: its k-th batch is the round's k-th.
      n = sharded ? Arrays.stream(acc.gather(new long[] {local})).sum() : local;
      hasLabels = data.columns().contains("labels");
    }

    /** Runs every round; {@code sink} null: no rows are needed (only the loss). */
    void run(TrainingData data, RowSink sink) {
      int bs = batchSize;
      int ws = worldSize();
      long batches = (n + bs - 1) / bs;
      // Every rank runs the same number of rounds (and so the same collectives); in the last round a rank may
      // have a short batch or none. Batches are not padded with repeated rows: the gather takes uneven sizes,
      // so there are no duplicates to compute and drop, and the loss of the last batch is that of its real rows.
      long rounds = (batches + ws - 1) / ws;
      if (sharded && (local + bs - 1) / bs > rounds) {
        throw new IllegalArgumentException("rank " + rank() + " holds " + local + " evaluation rows, more than its"
            + " share of the " + n + " rows in batches of " + bs + " dealt to " + ws + " ranks");
      }
      Accelerator.MetricsGatherer logitsGatherer = acc == null ? null : acc.metricsGatherer(n);
      Accelerator.MetricsGatherer labelsGatherer = acc == null ? null : acc.metricsGatherer(n);
      long next = 0; // the first row of this round's first batch
      try (NoGrad ignored = new NoGrad()) {
        for (long round = 0; round < rounds; round++) {
          long first = sharded ? round * bs : (round * ws + rank()) * bs;
          int len = (int) Math.max(0, Math.min(bs, (sharded ? local : n) - first));
          BatchResult mine = len == 0 ? BatchResult.EMPTY : forward(data, first, len);
          if (acc == null) {
            if (mine.hasLoss) {
              lossSum += mine.loss * (double) len;
              hasLoss = true;
            }
            if (sink != null) {
              sink.accept(mine, first, len);
            }
            continue;
          }
          // Sizes first (a rank without a batch this round does not know the model's output width).
          long[] header = acc.gather(len == 0 ? new long[0]
              : new long[] {len, mine.logitsPerRow, mine.labelsPerRow, mine.hasLoss ? 1 : 0,
                  Double.doubleToRawLongBits(mine.loss)});
          int rows = 0;
          // Rank order is batch order: the losses add up in the order one rank adds them.
          for (int h = 0; h < header.length; h += 5) {
            if (header[h + 3] == 1) {
              lossSum += Double.longBitsToDouble(header[h + 4]) * (double) header[h];
              hasLoss = true;
            }
            rows += (int) header[h];
          }
          if (sink != null) {
            int logitsPerRow = (int) header[1];
            int labelsPerRow = (int) header[2];
            float[] logits = logitsGatherer.gather(mine.logits, logitsPerRow);
            long[] lab = hasLabels ? labelsGatherer.gather(mine.labels, labelsPerRow) : null;
            sink.accept(new BatchResult(logits, lab, logitsPerRow, labelsPerRow, false, 0), next, rows);
          }
          next += rows;
        }
      }
    }
  }

  /** One evaluation batch's outputs: flat logits and labels, and the batch's mean loss (as a float). */
  private record BatchResult(float[] logits, long[] labels, int logitsPerRow, int labelsPerRow, boolean hasLoss,
      double loss) {
    static final BatchResult EMPTY = new BatchResult(new float[0], new long[0], 0, 0, false, 0);

    void copyInto(float[][] predictions, long[][] allLabels, long firstRow, int rows) {
      for (int i = 0; i < rows; i++) {
        predictions[(int) firstRow + i] = Arrays.copyOfRange(logits, i * logitsPerRow, (i + 1) * logitsPerRow);
        if (allLabels != null) {
          allLabels[(int) firstRow + i] = Arrays.copyOfRange(labels, i * labelsPerRow, (i + 1) * labelsPerRow);
        }
      }
    }

    /** The first {@code rows} rows as compute_metrics receives them (labels required). */
    EvalPrediction toEvalPrediction(int rows) {
      float[][] p = new float[rows][];
      long[][] l = new long[rows][];
      copyInto(p, l, 0, rows);
      return new EvalPrediction(p, l);
    }
  }

  private BatchResult forward(TrainingData data, long first, int len) {
    long[] rows = new long[len];
    for (int i = 0; i < len; i++) {
      rows[i] = first + i;
    }
    try (NDManager m = modelManager.newSubManager()) {
      Map<String, NDArray> inputs = data.batch(m, rows);
      ModelOutput out = predictionStep.apply(inputs);
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
      float[] logits = kept.toType(DataType.FLOAT32, false).toFloatArray();
      long[] labels = new long[0];
      int labelsPerRow = 0;
      if (l != null) {
        labels = l.toType(DataType.INT64, false).toLongArray();
        labelsPerRow = labels.length / len;
      }
      return new BatchResult(logits, labels, logits.length / len, labelsPerRow, hasLoss, loss);
    }
  }
}
