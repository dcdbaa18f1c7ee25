package io.sparkformers.jobs.train;

import io.sparkformers.datasets.ColumnType;
import io.sparkformers.datasets.Features;
import io.sparkformers.datasets.GroupTexts;
import io.sparkformers.datasets.LoadOptions;
import io.sparkformers.datasets.SparkDataset;
import io.sparkformers.datasets.Tokenizer;
import io.sparkformers.jobs.train.JobConfig.Task;
import io.sparkformers.training.models.CausalLmConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import scala.Tuple2;

/**
 * run_clm's data path as Spark jobs: the text column tokenized by executor tasks (or a pre-tokenized
 * input_ids column checked there), group_texts over each batch of 1000 rows of a split (the batches run_clm
 * maps it over, so the blocks are the same as in one process), and the blocks numbered in order and dealt to
 * the ranks ({@link RankShards}). The files are loaded and split by executor tasks ({@link SparkDataset}: the rows
 * stay on the executors, no cache folder is written). The driver only sees counts: the number of blocks of each
 * batch.
 */
final class SparkCausalLm {
  private SparkCausalLm() {}

  /** A split's rows (numbered from 0), named for errors. */
  private record Range(SparkDataset rows, String what) {}

  /** The blocks keyed by {@code split | index} (see {@link RankShards}), and what the ranks are told. */
  record Keyed(JavaPairRDD<Long, Object[]> rows, RankShards.Manifest manifest, Runnable release) {}

  static RankShards.Prepared prepare(JobConfig job, CausalLmConfig model, SparkSession spark, int evalBatchSize) {
    Keyed k = keyed(job, model, spark, evalBatchSize);
    RankShards.Prepared p = RankShards.toRanks(k.rows(), k.manifest());
    return new RankShards.Prepared(p.rows(), p.manifest(), k.release());
  }

  static Keyed keyed(JobConfig job, CausalLmConfig model, SparkSession spark, int evalBatchSize) {
    LoadOptions load = JobData.loadOptions(job, spark);
    String trainWhat = JobData.describe(job.trainFiles());
    String evalWhat = job.evalFiles().isEmpty()
        ? trainWhat + " (the first " + job.validationSplitPercentage() + "%)" : JobData.describe(job.evalFiles());
    try (SparkDataset trainFile = JobData.loadOnSpark(job.format(), load, job.trainFiles(), "data.train_file");
        SparkDataset evalFile = job.evalFiles().isEmpty() ? null
            : JobData.loadOnSpark(job.format(), load, job.evalFiles(), "data.eval_file")) {
      JobData.requireColumns(trainFile.features(), trainWhat, Task.CAUSAL_LM, job);
      if (evalFile != null) {
        JobData.requireColumns(evalFile.features(), evalWhat, Task.CAUSAL_LM, job);
      }
      Range train;
      Range eval;
      if (evalFile == null) {
        // run_clm: validation = train[:N%], train = train[N%:], as row ranges of the loaded rows.
        SparkDataset.Split split = JobData.split(trainFile, Task.CAUSAL_LM, job);
        train = new Range(split.train(), trainWhat);
        eval = new Range(split.test(), evalWhat);
      } else {
        train = new Range(trainFile, trainWhat);
        eval = new Range(evalFile, evalWhat);
      }
      boolean preTokenized = trainFile.features().contains("input_ids");
      int blockSize;
      String tokenizer = null;
      if (preTokenized) {
        if (!eval.rows().features().contains("input_ids")) {
          throw new IllegalArgumentException(evalWhat + ": no column 'input_ids', but " + trainWhat + " is"
              + " pre-tokenized; the columns are " + JobData.columns(eval.rows().features()));
        }
        blockSize = JobData.blockSize(job, Long.MAX_VALUE, model);
      } else {
        try (Tokenizer t = JobData.tokenizer(job, model.vocabSize())) {
          blockSize = JobData.blockSize(job, t.modelMaxLength(), model);
        }
        JobData.checkText(trainFile.features(), job.textColumn(), trainWhat);
        JobData.checkText(eval.rows().features(), job.textColumn(), evalWhat);
        tokenizer = Path.of(job.tokenizer()).toAbsolutePath().toString();
      }
      String column = preTokenized ? "input_ids" : job.textColumn();
      Blocks trainBlocks = blocks(spark, train, column, tokenizer, model.vocabSize(), blockSize, 0);
      Blocks evalBlocks = blocks(spark, eval, column, tokenizer, model.vocabSize(), blockSize, RankShards.EVAL);
      Features features = Features.builder().add("input_ids", ColumnType.INT32_LIST).build();
      RankShards.Manifest manifest = new RankShards.Manifest(features, trainBlocks.count, evalBlocks.count,
          job.worldSize(), evalBatchSize, true, null, blockSize, null);
      return new Keyed(trainBlocks.keyed.union(evalBlocks.keyed), manifest, () -> {
        trainBlocks.grouped.unpersist(false);
        evalBlocks.grouped.unpersist(false);
      });
    } catch (Exception e) { // SparkException is checked but thrown undeclared from Scala
      throw badInput(e);
    }
  }

  /** A split's blocks keyed by {@code split | index}, and how many there are. */
  private record Blocks(JavaPairRDD<Long, Object[]> keyed, long count, JavaPairRDD<Long, List<int[]>> grouped) {}

  private static Blocks blocks(SparkSession spark, Range range, String column, String tokenizer, int vocabSize,
      int blockSize, long split) {
    long n = range.rows().numRows();
    String what = range.what();
    long batches = (n + GroupTexts.BATCH_SIZE - 1) / GroupTexts.BATCH_SIZE;
    // A file is one partition when loaded: its group_texts batches are spread over the cores before the
    // tokenizer runs, each batch whole in one task.
    int parts = (int) Math.max(1, Math.min(batches, 2L * spark.sparkContext().defaultParallelism()));
    boolean preTokenized = tokenizer == null;
    JavaPairRDD<Long, Tuple2<Long, Object>> byBatch = range.rows().select(column).indexed()
        .mapToPair(t -> {
          long r = t._1();
          Object v = preTokenized ? checkedIds(t._2(), r, vocabSize, what)
              : t._2().isNullAt(0) ? "" : t._2().getString(0);
          return new Tuple2<>(r / GroupTexts.BATCH_SIZE, new Tuple2<>(r, v));
        });
    // Each batch tokenized in row order, then group_texts: concatenated and cut into blocks, the rest dropped.
    // Persisted: the counts are taken from it, then the ranks' rows.
    JavaPairRDD<Long, List<int[]>> grouped = byBatch.groupByKey(parts).mapValues(batch -> {
      List<Tuple2<Long, Object>> ordered = new ArrayList<>();
      batch.forEach(ordered::add);
      ordered.sort((a, b) -> Long.compare(a._1(), b._1()));
      List<int[]> ids = new ArrayList<>(ordered.size());
      if (preTokenized) {
        ordered.forEach(t -> ids.add((int[]) t._2()));
      } else {
        Tokenizer tok = SparkRows.tokenizer(tokenizer);
        List<String> texts = new ArrayList<>(ordered.size());
        ordered.forEach(t -> texts.add((String) t._2()));
        tok.encodeBatch(texts, 0, true).forEach(e -> ids.add(e.inputIds()));
      }
      return groupTexts(ids, blockSize);
    }).persist(StorageLevel.MEMORY_AND_DISK());
    Map<Long, Integer> perBatch = grouped.mapValues(List::size).collectAsMap();
    long[] offsets = new long[(int) batches + 1];
    for (int b = 0; b < batches; b++) {
      offsets[b + 1] = offsets[b] + perBatch.getOrDefault((long) b, 0);
    }
    long count = offsets[(int) batches];
    if (count == 0) {
      throw new IllegalArgumentException(what + ": fewer than block_size = " + blockSize + " tokens in a group"
          + " of " + GroupTexts.BATCH_SIZE + " rows, so group_texts leaves no block; give more text or a smaller"
          + " data.block_size");
    }
    JavaPairRDD<Long, Object[]> keyed = grouped.flatMapToPair(e -> {
      List<Tuple2<Long, Object[]>> out = new ArrayList<>(e._2().size());
      long first = offsets[e._1().intValue()];
      for (int j = 0; j < e._2().size(); j++) {
        out.add(new Tuple2<>(split | (first + j), new Object[] {e._2().get(j)}));
      }
      return out.iterator();
    });
    return new Blocks(keyed, count, grouped);
  }

  /** group_texts over one batch's token lists: concatenated, cut into blocks, the rest dropped. */
  static List<int[]> groupTexts(List<int[]> ids, int blockSize) {
    int total = 0;
    for (int[] i : ids) {
      total += i.length;
    }
    int[] all = new int[total];
    int at = 0;
    for (int[] i : ids) {
      System.arraycopy(i, 0, all, at, i.length);
      at += i.length;
    }
    List<int[]> out = new ArrayList<>();
    for (int s = 0; s + blockSize <= total; s += blockSize) {
      out.add(Arrays.copyOfRange(all, s, s + blockSize));
    }
    return out;
  }

  /** A pre-tokenized row's ids, each checked against the vocabulary; an error names the file and the row. */
  private static int[] checkedIds(Row row, long r, int vocabSize, String what) {
    try {
      int[] ids = JobData.ints(row.isNullAt(0) ? null : row.getList(0), "input_ids");
      for (int id : ids) {
        if (id < 0 || id >= vocabSize) {
          throw new IllegalArgumentException("token id " + id + " is not in the model's vocabulary (vocab_size "
              + vocabSize + ")");
        }
      }
      return ids;
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(what + " row " + r + ": " + e.getMessage(), e);
    }
  }

  /** A task's bad-input error (a file, row or column named) as it was thrown, without Spark's wrapping. */
  static RuntimeException badInput(Exception e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof IllegalArgumentException iae) {
        return t == e ? iae : new IllegalArgumentException(iae.getMessage(), e);
      }
    }
    return e instanceof RuntimeException r ? r : new IllegalStateException(e.getMessage(), e);
  }
}
