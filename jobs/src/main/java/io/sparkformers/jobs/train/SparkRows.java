package io.sparkformers.jobs.train;

import io.sparkformers.datasets.AutoTokenizer;
import io.sparkformers.datasets.ChatTemplate;
import io.sparkformers.datasets.ColumnType;
import io.sparkformers.datasets.Features;
import io.sparkformers.datasets.LoadOptions;
import io.sparkformers.datasets.SparkDataset;
import io.sparkformers.datasets.Tokenizer;
import io.sparkformers.jobs.train.JobConfig.Task;
import io.sparkformers.jobs.train.JobData.Labels;
import io.sparkformers.jobs.train.JobData.SftFormat;
import io.sparkformers.training.models.CausalLmConfig;
import io.sparkformers.training.models.ModelConfig;
import io.sparkformers.training.models.bert.BertConfig;
import io.sparkformers.training.models.mlp.MlpConfig;
import java.io.Serializable;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import scala.Tuple2;

/**
 * The data paths of tabular_classification, sequence_classification and sft as Spark jobs: each row of a split
 * is turned into the model's inputs by executor tasks (feature extraction and label ids; run_glue's tokenization
 * padded to max_seq_length; TRL's SFT tokenization, chat templates and label masks, padded to the split's
 * longest row), keyed by its split and index and dealt to the ranks by {@link RankShards}. The files are loaded
 * and split by executor tasks ({@link SparkDataset}: the rows stay on the executors, no cache folder is
 * written). The rows are the same as {@link JobData#prepare} makes in one process; the driver only sees row
 * counts, features, label names and widths.
 */
final class SparkRows {
  /** Tokenizers loaded by tasks (these and SparkCausalLm's), one per folder and executor JVM. */
  private static final Map<String, Tokenizer> TOKENIZERS = new ConcurrentHashMap<>();

  private SparkRows() {}

  /** Turns one row (its selected columns) into the model's input values; errors name no row. */
  interface RowFunction {
    Object[] apply(Row row);
  }

  /** Creates a task's {@link RowFunction} once per partition (so that it may hold a tokenizer or template). */
  interface RowFunctions extends Serializable {
    RowFunction create();
  }

  static RankShards.Prepared prepare(JobConfig job, Task task, ModelConfig model, SparkSession spark,
      int evalBatchSize) {
    SparkCausalLm.Keyed k = keyed(job, task, model, spark, evalBatchSize);
    RankShards.Prepared p = RankShards.toRanks(k.rows(), k.manifest());
    return new RankShards.Prepared(p.rows(), p.manifest(), k.release());
  }

  /**
   * Every split's rows keyed by {@code split | index} (see {@link RankShards}), what the ranks are told, and
   * what unpersists the rows: dealt to the ranks by {@link #prepare}, or written to data.cache_dir's shards.
   */
  static SparkCausalLm.Keyed keyed(JobConfig job, Task task, ModelConfig model, SparkSession spark,
      int evalBatchSize) {
    LoadOptions load = JobData.loadOptions(job, spark);
    String trainWhat = JobData.describe(job.trainFiles());
    String evalWhat = job.evalFiles().isEmpty() ? trainWhat + " (held-out " + job.testSize() + ")"
        : JobData.describe(job.evalFiles());
    try (SparkDataset trainFile = JobData.loadOnSpark(job.format(), load, job.trainFiles(), "data.train_file");
        SparkDataset evalFile = job.evalFiles().isEmpty() ? null
            : JobData.loadOnSpark(job.format(), load, job.evalFiles(), "data.eval_file")) {
      JobData.requireColumns(trainFile.features(), trainWhat, task, job);
      if (evalFile != null) {
        JobData.requireColumns(evalFile.features(), evalWhat, task, job);
      }
      Labels labels = null;
      if (task != Task.SFT) {
        int numLabels = model instanceof MlpConfig m ? m.numLabels() : ((BertConfig) model).numLabels();
        labels = labels(trainFile, job.labelColumn(), trainWhat, numLabels);
        // As in one process: the labels are checked on the files as loaded, so an error names the file's row
        // (an empty label before a wrong number of classes).
        checkLabels(labels, trainFile, trainWhat);
        if (labels.names() != null) {
          labels = Labels.named(labels.column(), new TreeSet<>(labels.names()), trainWhat, numLabels);
        }
        if (evalFile != null) {
          checkLabels(labels, evalFile, evalWhat);
        }
      }
      // The split runs on Spark too: its order is made by one executor task and joined with the rows by index.
      SparkDataset.Split split = evalFile != null ? null : JobData.split(trainFile, task, job);
      SparkDataset train = split != null ? split.train() : trainFile;
      SparkDataset eval = split != null ? split.test() : evalFile;
      // Each split's rows are prepared, persisted and counted before the loaded rows are unpersisted.
      return switch (task) {
        case TABULAR_CLASSIFICATION -> tabular(job, (MlpConfig) model, labels, train, eval, trainWhat, evalWhat,
            spark, evalBatchSize);
        case SEQUENCE_CLASSIFICATION -> sequenceClassification(job, (BertConfig) model, labels, train, eval,
            trainWhat, evalWhat, spark, evalBatchSize);
        case SFT -> sft(job, (CausalLmConfig) model, train, eval, trainWhat, evalWhat, spark, evalBatchSize);
        case CAUSAL_LM -> throw new IllegalStateException("causal LM data is prepared by SparkCausalLm");
      };
    } catch (Exception e) { // SparkException is checked but thrown undeclared from Scala
      throw SparkCausalLm.badInput(e);
    }
  }

  /**
   * The train file's labels: string class names found by a Spark job (distinct, sorted), integer ids as they
   * are. The number of names is checked by {@link Labels#named} once every row's label is checked.
   */
  private static Labels labels(SparkDataset train, String column, String what, int numLabels) {
    ColumnType type = train.features().type(column);
    if (type != ColumnType.STRING) {
      return Labels.ofType(type, column, what, numLabels);
    }
    TreeSet<String> names = new TreeSet<>(train.select(column).indexed().values()
        .filter(r -> !r.isNullAt(0)).map(r -> r.getString(0)).distinct().collect());
    return new Labels(column, new ArrayList<>(names), numLabels);
  }

  /** Every label of a file is a class id the model has (a Spark job over the label column). */
  private static void checkLabels(Labels labels, SparkDataset d, String what) {
    ColumnType type = d.features().type(labels.column());
    d.select(labels.column()).indexed()
        .foreach(t -> labels.id(t._2().isNullAt(0) ? null : t._2().get(0), type, what, t._1()));
  }

  // ------------------------------------------------------------------------------- tabular

  private static SparkCausalLm.Keyed tabular(JobConfig job, MlpConfig model, Labels labels, SparkDataset train,
      SparkDataset eval, String trainWhat, String evalWhat, SparkSession spark, int evalBatchSize) {
    List<String> features = JobData.tabularFeatures(job, model, train.features(), trainWhat);
    JobData.checkNumeric(train.features(), features, trainWhat);
    JobData.checkNumeric(eval.features(), features, evalWhat);
    List<String> columns = new ArrayList<>(features);
    columns.add(job.labelColumn());
    float scale = job.featureScale();
    int w = features.size();
    ColumnType trainType = train.features().type(job.labelColumn());
    ColumnType evalType = eval.features().type(job.labelColumn());
    Features out = Features.builder().add("features", ColumnType.FLOAT32_LIST).add("labels", ColumnType.INT64)
        .build();
    Keyed t = keyed(spark, train, columns, 0, () -> tabularRow(features, scale, w, labels, trainType, trainWhat),
        trainWhat);
    Keyed e = keyed(spark, eval, columns, RankShards.EVAL,
        () -> tabularRow(features, scale, w, labels, evalType, evalWhat), evalWhat);
    return bothSplits(t, e, out, job, evalBatchSize, labels.names());
  }

  private static RowFunction tabularRow(List<String> features, float scale, int w, Labels labels,
      ColumnType labelType, String what) {
    return row -> {
      float[] x = new float[w];
      for (int c = 0; c < w; c++) {
        x[c] = JobData.feature(row.isNullAt(c) ? null : row.get(c), features.get(c), scale);
      }
      // Checked by checkLabels already; the row number is not needed here.
      long label = labels.id(row.get(w), labelType, what, -1);
      return new Object[] {x, label};
    };
  }

  // ------------------------------------------------------------------- sequence classification

  private static SparkCausalLm.Keyed sequenceClassification(JobConfig job, BertConfig model, Labels labels,
      SparkDataset train, SparkDataset eval, String trainWhat, String evalWhat, SparkSession spark,
      int evalBatchSize) {
    int pad;
    int length;
    try (Tokenizer tokenizer = JobData.tokenizer(job, model.vocabSize())) {
      pad = JobData.classificationPad(job, tokenizer);
      JobData.checkText(train.features(), job.textColumn(), trainWhat);
      JobData.checkText(eval.features(), job.textColumn(), evalWhat);
      length = JobData.classificationLength(job, model, tokenizer);
    }
    String tokenizer = Path.of(job.tokenizer()).toAbsolutePath().toString();
    List<String> columns = List.of(job.textColumn(), job.labelColumn());
    ColumnType trainType = train.features().type(job.labelColumn());
    ColumnType evalType = eval.features().type(job.labelColumn());
    Features out = Features.builder().add("input_ids", ColumnType.INT32_LIST)
        .add("attention_mask", ColumnType.INT32_LIST).add("labels", ColumnType.INT64).build();
    Keyed t = keyed(spark, train, columns, 0,
        () -> classificationRow(tokenizer, length, pad, labels, trainType, trainWhat), trainWhat);
    Keyed e = keyed(spark, eval, columns, RankShards.EVAL,
        () -> classificationRow(tokenizer, length, pad, labels, evalType, evalWhat), evalWhat);
    return bothSplits(t, e, out, job, evalBatchSize, labels.names());
  }

  /** run_glue's row: the text encoded with special tokens, truncated and padded to {@code length}. */
  private static RowFunction classificationRow(String tokenizer, int length, int pad, Labels labels,
      ColumnType labelType, String what) {
    Tokenizer tok = tokenizer(tokenizer);
    return row -> {
      Tokenizer.Encoded enc = tok.encode(row.isNullAt(0) ? "" : row.getString(0), length, true);
      int[] encoded = enc.inputIds();
      int[] mask = enc.attentionMask();
      int[] ids = new int[length];
      int[] m = new int[length];
      Arrays.fill(ids, pad);
      System.arraycopy(encoded, 0, ids, 0, encoded.length);
      System.arraycopy(mask, 0, m, 0, mask.length);
      return new Object[] {ids, m, labels.id(row.get(1), labelType, what, -1)};
    };
  }

  // -------------------------------------------------------------------------------------- sft

  private static SparkCausalLm.Keyed sft(JobConfig job, CausalLmConfig model, SparkDataset train,
      SparkDataset eval, String trainWhat, String evalWhat, SparkSession spark, int evalBatchSize) {
    SftFormat format = SftFormat.of(train.features(), trainWhat, job);
    JobData.checkSftFormats(format, SftFormat.of(eval.features(), evalWhat, job), trainWhat, evalWhat);
    JobData.checkSftLength(job, model);
    boolean needsTokenizer = !(format == SftFormat.PRE_TOKENIZED && job.tokenizer() == null);
    int padId = 0;
    boolean template = false;
    if (needsTokenizer) {
      try (Tokenizer tokenizer = JobData.tokenizer(job, model.vocabSize())) {
        Integer pad = tokenizer.padTokenId() != null ? tokenizer.padTokenId() : tokenizer.eosTokenId();
        padId = pad == null ? 0 : pad;
      }
      // Checked here, where its error names the job; the tasks load it again from the folder.
      template = JobData.sftTemplate(job, format) != null;
    }
    String tokenizer = needsTokenizer ? Path.of(job.tokenizer()).toAbsolutePath().toString() : null;
    boolean withTemplate = template;
    int vocabSize = model.vocabSize();
    Keyed t = sftKeyed(spark, train, format, job, tokenizer, withTemplate, vocabSize, 0, trainWhat);
    Keyed e = sftKeyed(spark, eval, format, job, tokenizer, withTemplate, vocabSize, RankShards.EVAL, evalWhat);
    // Padded to each split's longest row, as in one process: its width is all the driver learns of the rows.
    int trainWidth = width(t.rows);
    int evalWidth = width(e.rows);
    int pad = padId;
    Keyed paddedTrain = new Keyed(t.rows.mapValues(v -> padSft(v, trainWidth, pad)), t.count, t.release);
    Keyed paddedEval = new Keyed(e.rows.mapValues(v -> padSft(v, evalWidth, pad)), e.count, e.release);
    // A width of one makes scalar columns, as the fixed-width columns of one process do.
    ColumnType type = trainWidth == 1 ? ColumnType.INT64 : ColumnType.INT32_LIST;
    Features out = Features.builder().add("input_ids", type).add("attention_mask", type).add("labels", type)
        .build();
    return bothSplits(paddedTrain, paddedEval, out, job, evalBatchSize, null);
  }

  private static Keyed sftKeyed(SparkSession spark, SparkDataset d, SftFormat format, JobConfig job, String tokenizer,
      boolean template, int vocabSize, long split, String what) {
    String[] names = JobData.sftColumns(format, job, d.features());
    List<String> columns = names[1] == null ? List.of(names[0]) : List.of(names[0], names[1]);
    boolean hasSecond = names[1] != null;
    boolean completionOnly = job.completionOnlyLoss();
    boolean assistantOnly = job.assistantOnlyLoss();
    int maxLength = job.maxSeqLength();
    return keyed(spark, d, columns, split, () -> {
      Tokenizer tok = tokenizer == null ? null : tokenizer(tokenizer);
      ChatTemplate chat = template ? ChatTemplate.fromPretrained(Path.of(tokenizer)) : null;
      SftExamples examples = new SftExamples(tok, chat, completionOnly, assistantOnly, maxLength);
      return row -> {
        SftExamples.Example e = JobData.sftExample(examples, format, job, value(row, 0),
            hasSecond ? value(row, 1) : null, hasSecond, vocabSize);
        return new Object[] {e.inputIds(), e.labels()};
      };
    }, what);
  }

  private static int width(JavaPairRDD<Long, Object[]> rows) {
    return rows.values().map(v -> ((int[]) v[0]).length).fold(1, Math::max);
  }

  /** An sft example padded on the right: the pad token, attention_mask 0 and labels -100. */
  private static Object[] padSft(Object[] v, int width, int pad) {
    int[] ids = (int[]) v[0];
    int[] labels = (int[]) v[1];
    int[] outIds = new int[width];
    int[] mask = new int[width];
    int[] outLabels = new int[width];
    Arrays.fill(outIds, pad);
    Arrays.fill(outLabels, SftExamples.IGNORE);
    System.arraycopy(ids, 0, outIds, 0, ids.length);
    Arrays.fill(mask, 0, ids.length, 1);
    System.arraycopy(labels, 0, outLabels, 0, labels.length);
    if (width == 1) {
      return new Object[] {(long) outIds[0], (long) mask[0], (long) outLabels[0]};
    }
    return new Object[] {outIds, mask, outLabels};
  }

  // ------------------------------------------------------------------------------- shared

  /** A split's prepared rows keyed by {@code split | index}, how many, and what unpersists them. */
  private record Keyed(JavaPairRDD<Long, Object[]> rows, long count, Runnable release) {}

  /**
   * Runs {@code make}'s function over every row of {@code d} in Spark tasks (the rows spread over the cores, as
   * a loaded file is one partition); the rows are persisted and counted, so that a bad row fails here, naming
   * {@code what} and its row, and the files may be closed afterwards.
   */
  private static Keyed keyed(SparkSession spark, SparkDataset d, List<String> columns, long split,
      RowFunctions make, String what) {
    long n = d.numRows();
    int parts = (int) Math.max(1, Math.min(n / 256 + 1, 2L * spark.sparkContext().defaultParallelism()));
    JavaPairRDD<Long, Object[]> rows = d.select(columns).indexed()
        .repartition(parts)
        .mapPartitionsToPair((Iterator<Tuple2<Long, Row>> it) -> {
          RowFunction f = make.create();
          // One row at a time: a task holds no more than the row it prepares.
          return new Iterator<Tuple2<Long, Object[]>>() {
            @Override
            public boolean hasNext() {
              return it.hasNext();
            }

            @Override
            public Tuple2<Long, Object[]> next() {
              Tuple2<Long, Row> t = it.next();
              try {
                return new Tuple2<>(split | t._1(), f.apply(t._2()));
              } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(what + " row " + t._1() + ": " + e.getMessage(), e);
              }
            }
          };
        })
        .persist(StorageLevel.MEMORY_AND_DISK());
    long count = rows.count();
    if (count != n) {
      throw new IllegalStateException("prepared " + count + " of " + n + " rows");
    }
    return new Keyed(rows, count, () -> rows.unpersist(false));
  }

  /** A column's value as the driver's Dataset gives it: lists as java.util.List. */
  private static Object value(Row row, int i) {
    if (row.isNullAt(i)) {
      return null;
    }
    Object v = row.get(i);
    return v instanceof scala.collection.Seq<?> ? row.getList(i) : v;
  }

  private static SparkCausalLm.Keyed bothSplits(Keyed train, Keyed eval, Features features, JobConfig job,
      int evalBatchSize, List<String> labelNames) {
    RankShards.Manifest m = new RankShards.Manifest(features, train.count, eval.count, job.worldSize(),
        evalBatchSize, false, labelNames, null, null);
    return new SparkCausalLm.Keyed(train.rows.union(eval.rows), m, () -> {
      train.release.run();
      eval.release.run();
    });
  }

  static Tokenizer tokenizer(String folder) {
    return TOKENIZERS.computeIfAbsent(folder, p -> AutoTokenizer.fromPretrained(Path.of(p)));
  }
}
