package io.sparkformers.datasets;

import io.sparkformers.datasets.internal.InputFiles;
import io.sparkformers.datasets.internal.InputFiles.InputFile;
import io.sparkformers.datasets.internal.JsonReader;
import io.sparkformers.datasets.internal.LineRanges;
import io.sparkformers.datasets.internal.NumpyRandom;
import io.sparkformers.datasets.internal.PushToPull;
import io.sparkformers.datasets.internal.SparkArrow;
import io.sparkformers.datasets.internal.Stratified;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import org.apache.spark.Partitioner;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import scala.Tuple2;

/**
 * A dataset whose rows live in Spark partitions on the executors: Hugging Face's {@code load_dataset} read by
 * executor tasks, each row numbered with its index, and {@code select_range} / {@code train_test_split} as
 * Spark jobs. Nothing is written to a cache folder and the driver holds no row: it sees the features, the
 * number of rows and, per file, how many rows it has. The loaded rows are persisted on the executors
 * ({@code MEMORY_AND_DISK}, in their block managers), so no storage shared by the executors and the driver is
 * needed, as on YARN with executor-local disks.
 *
 * <p>The datasets that {@link #select}, {@link #selectRange} and {@link #trainTestSplit} return are views of
 * the loaded rows: close the loaded dataset (which unpersists its rows) once they are no longer used.
 */
public final class SparkDataset implements AutoCloseable {
  private final SparkSession spark;
  private final Features features;
  private final long numRows;
  /** The rows keyed by index, the partitions in index order and each partition's rows ordered by index. */
  private final JavaPairRDD<Long, Row> rows;
  /** Partition p of {@link #rows} holds the indices [bounds[p], bounds[p + 1]). */
  private final long[] bounds;
  /** What {@link #close} unpersists: only the loaded dataset owns its rows. */
  private final JavaRDD<?> owned;
  /** The rows each loaded file gave, in file order; null where the rows are no longer the files' rows. */
  private final long[] rowsPerFile;

  private SparkDataset(SparkSession spark, Features features, long[] bounds, JavaPairRDD<Long, Row> rows,
      JavaRDD<?> owned) {
    this(spark, features, bounds, rows, owned, null);
  }

  private SparkDataset(SparkSession spark, Features features, long[] bounds, JavaPairRDD<Long, Row> rows,
      JavaRDD<?> owned, long[] rowsPerFile) {
    this.rowsPerFile = rowsPerFile;
    this.spark = spark;
    this.features = features;
    this.numRows = bounds[bounds.length - 1];
    this.bounds = bounds;
    this.rows = rows;
    this.owned = owned;
  }

  /** {@link #load(DataFormat, LoadOptions, List)} for a few locations. */
  public static SparkDataset load(DataFormat format, LoadOptions options, String... locations) {
    return load(format, options, Arrays.asList(locations));
  }

  /**
   * Reads {@code locations} (local paths, globs, folders or Hadoop URIs such as {@code s3a://bucket/*.jsonl},
   * which every executor must reach) with the session of {@code options}: the types are inferred per file by
   * Spark tasks and merged as {@link DatasetLoader#load} merges them (unless the options give the features),
   * then each file is parsed by one task, its rows streamed (a task holds a bounded number of them, never the
   * whole file) and persisted in file order. An uncompressed JSON-lines or text file larger than
   * {@link LoadOptions#rangeBytes()} is parsed by one task per byte range of it, after a first job counts each
   * range's lines (bytes only, no parsing) so that errors keep naming the file's own line numbers (a JSON-lines
   * file's types are then inferred per range too); the rows, their indices and the features
   * are the same whatever the range size. The options' cache folder is not used.
   *
   * @throws IllegalArgumentException for bad input, naming the file and the line (or both files when their
   *     columns differ), as {@link DatasetLoader#load} does
   */
  public static SparkDataset load(DataFormat format, LoadOptions options, List<String> locations) {
    SparkSession spark = options.spark();
    if (spark == null) {
      throw new IllegalArgumentException("SparkDataset.load needs a SparkSession in the LoadOptions (spark(...))");
    }
    List<InputFile> files = new InputFiles(options.hadoopConfiguration()).resolve(locations);
    DatasetLoader.ParseSettings settings = DatasetLoader.ParseSettings.of(options);
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    JavaRDD<Row> loaded = null;
    try {
      long[][] plan = plan(jsc, format, settings, options.rangeBytes(), files);
      Features features = options.features();
      if (features == null) {
        features = infer(jsc, format, settings, files, plan);
      }
      Features schema = features;
      // One piece (a file or a byte range of one) per partition, in file order: a partition's rows are that
      // piece's rows in order, so numbering the partitions' rows in turn numbers the files' rows in turn.
      List<InputFile> all = new ArrayList<>(files);
      loaded = indices(jsc, plan.length)
          .mapPartitions((Iterator<Integer> it) -> new FileRows(format, settings, schema, all, plan, it))
          .persist(StorageLevel.MEMORY_AND_DISK());
      loaded.setName("sparkformers rows of " + (files.size() == 1 ? files.get(0) : files.size() + " files"));
      // Counting reads every file once (a bad row fails here) and leaves the rows persisted.
      List<Long> counts = loaded.mapPartitions((Iterator<Row> it) -> {
        long c = 0;
        for (; it.hasNext(); it.next()) {
          c++;
        }
        return List.of(c).iterator();
      }).collect();
      long[] offsets = new long[counts.size() + 1];
      long[] perFile = new long[files.size()];
      for (int p = 0; p < counts.size(); p++) {
        offsets[p + 1] = offsets[p] + counts.get(p);
        if (p < plan.length) { // no file at all still makes one (empty) partition
          perFile[(int) plan[p][0]] += counts.get(p);
        }
      }
      JavaPairRDD<Long, Row> indexed = JavaPairRDD.fromJavaRDD(loaded.mapPartitionsWithIndex(
          (Integer p, Iterator<Row> it) -> numbered(it, offsets[p]), true));
      return new SparkDataset(spark, schema, offsets, indexed, loaded, perFile);
    } catch (Exception e) { // SparkException is checked but thrown undeclared from Scala
      if (loaded != null) {
        loaded.unpersist(false);
      }
      throw DatasetLoader.unwrapSparkFailure(e);
    }
  }

  /**
   * The pieces the files are read as, in order: {file, -1, 0, 0} for a whole file, {file, offset of the first
   * line, lines before it, lines} for a byte range of a file. The ranges' lines are counted by one task each.
   */
  private static long[][] plan(JavaSparkContext jsc, DataFormat format, DatasetLoader.ParseSettings settings,
      long rangeBytes, List<InputFile> files) {
    InputFiles inputs = new InputFiles(settings.hadoop());
    List<long[]> pieces = new ArrayList<>();
    List<long[]> ranges = new ArrayList<>();
    for (int i = 0; i < files.size(); i++) {
      InputFile f = files.get(i);
      if (!DatasetLoader.splittable(format, inputs, f, rangeBytes)) {
        pieces.add(new long[] {i, -1, 0, 0});
        continue;
      }
      for (long[] r : LineRanges.cut(f.size(), rangeBytes)) {
        long[] piece = {i, r[0], r[1], 0};
        pieces.add(piece);
        ranges.add(piece);
      }
    }
    if (ranges.isEmpty()) {
      return pieces.toArray(new long[0][]);
    }
    List<InputFile> all = new ArrayList<>(files);
    long[][] cut = ranges.toArray(new long[0][]);
    List<long[]> counted = indices(jsc, cut.length).map(k -> LineRanges.count(
        new InputFiles(settings.hadoop()), all.get((int) cut[k][0]), cut[k][1], cut[k][2])).collect();
    long lines = 0;
    for (int k = 0; k < cut.length; k++) {
      if (k == 0 || cut[k][0] != cut[k - 1][0]) {
        lines = 0; // a file's first range
      }
      long[] c = counted.get(k);
      cut[k][1] = c[0];
      cut[k][2] = lines;
      cut[k][3] = c[1];
      lines += c[1];
    }
    return pieces.toArray(new long[0][]);
  }

  /**
   * The features {@link DatasetLoader#load} infers. A JSON-lines file read as ranges is inferred by one task
   * per range, the ranges' columns joined in order; a range that fails, or ranges whose types conflict, send
   * the file to one task that infers it whole, as before, so that the error names its first bad line.
   */
  private static Features infer(JavaSparkContext jsc, DataFormat format, DatasetLoader.ParseSettings settings,
      List<InputFile> files, long[][] plan) {
    if (format != DataFormat.JSON || Arrays.stream(plan).allMatch(piece -> piece[1] < 0)) {
      return DatasetLoader.inferWithSpark(jsc, format, settings, files);
    }
    List<InputFile> all = new ArrayList<>(files);
    List<Map<String, ColumnType>> perPiece = indices(jsc, plan.length).map(k -> {
      long[] piece = plan[k];
      InputFile f = all.get((int) piece[0]);
      InputFiles inputs = new InputFiles(settings.hadoop());
      if (piece[1] < 0) {
        return (Map<String, ColumnType>) new java.util.LinkedHashMap<>(
            DatasetLoader.inferFile(format, settings.options(), inputs, f));
      }
      try {
        return DatasetLoader.inferLines(inputs, f, piece[1], piece[2], piece[3]);
      } catch (IllegalArgumentException e) {
        return null; // the whole file is inferred again for its first error
      }
    }).collect();
    List<Map<String, ColumnType>> perFile = new ArrayList<>();
    for (int k = 0; k < plan.length; k++) {
      int file = (int) plan[k][0];
      Map<String, ColumnType> found = perPiece.get(k);
      if (perFile.size() == file) {
        perFile.add(found);
      } else if (perFile.get(file) != null) {
        perFile.set(file, found == null ? null : JsonReader.concat(perFile.get(file), found));
      }
    }
    for (int i = 0; i < perFile.size(); i++) {
      if (perFile.get(i) == null) {
        perFile.set(i, DatasetLoader.inferEachWithSpark(jsc, format, settings, List.of(files.get(i))).get(0));
      }
    }
    return DatasetLoader.mergeAll(format, files, perFile);
  }

  /** 0 to n - 1, one per partition (the tasks take what they read from their closure, see fileIndices). */
  private static JavaRDD<Integer> indices(JavaSparkContext jsc, int n) {
    List<Integer> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(i);
    }
    return jsc.parallelize(out, Math.max(1, n));
  }

  private static Iterator<Tuple2<Long, Row>> numbered(Iterator<Row> it, long first) {
    return new Iterator<>() {
      private long next = first;

      @Override
      public boolean hasNext() {
        return it.hasNext();
      }

      @Override
      public Tuple2<Long, Row> next() {
        return new Tuple2<>(next++, it.next());
      }
    };
  }

  public Features features() {
    return features;
  }

  public long numRows() {
    return numRows;
  }

  /**
   * How many rows each file gave, in the order the files were read (their rows are numbered in that order);
   * null for {@link #selectRange} and {@link #trainTestSplit}, whose rows are no longer the files' rows.
   */
  public long[] rowsPerFile() {
    return rowsPerFile == null ? null : rowsPerFile.clone();
  }

  public SparkSession spark() {
    return spark;
  }

  /**
   * The rows keyed by their index (0 to {@link #numRows()} - 1): the partitions hold consecutive indices in
   * order. A Row's values are in the order of {@link #features()}: Integer, Long, Float, Double, Boolean,
   * String, and Scala sequences for list columns (as Spark gives array columns back; {@code Row.getList}
   * reads them).
   */
  public JavaPairRDD<Long, Row> indexed() {
    return rows;
  }

  /** The rows as a DataFrame of {@link #features()}' columns, in index order. */
  public org.apache.spark.sql.Dataset<Row> toDataFrame() {
    return spark.createDataFrame(rows.values(), SparkArrow.schema(features));
  }

  /** Only {@code columns}, in that order; a column not among the features is an error naming those there are. */
  public SparkDataset select(List<String> columns) {
    Features.Builder b = Features.builder();
    int[] at = new int[columns.size()];
    for (int i = 0; i < at.length; i++) {
      at[i] = features.indexOf(columns.get(i));
      b.add(columns.get(i), features.type(columns.get(i)));
    }
    JavaPairRDD<Long, Row> picked = rows.mapValues(r -> {
      Object[] v = new Object[at.length];
      for (int i = 0; i < at.length; i++) {
        v[i] = r.get(at[i]);
      }
      return RowFactory.create(v);
    });
    return new SparkDataset(spark, b.build(), bounds, picked, null, rowsPerFile);
  }

  /** {@link #select(List)} for a few columns. */
  public SparkDataset select(String... columns) {
    return select(Arrays.asList(columns));
  }

  /** The rows from {@code from} (inclusive) to {@code to} (exclusive), numbered again from 0. */
  public SparkDataset selectRange(long from, long to) {
    if (from < 0 || to < from || to > numRows) {
      throw new IndexOutOfBoundsException("Range [" + from + ", " + to + ") is outside [0, " + numRows + "]");
    }
    JavaPairRDD<Long, Row> range = JavaPairRDD.fromJavaRDD(rows.mapPartitions(
        (Iterator<Tuple2<Long, Row>> it) -> inRange(it, from, to), true));
    long[] within = new long[bounds.length];
    for (int p = 0; p < within.length; p++) {
      within[p] = Math.min(Math.max(bounds[p], from), to) - from;
    }
    return new SparkDataset(spark, features, within, range, null);
  }

  /** The rows of {@code it} with an index in [from, to), numbered again from 0 (static: tasks get no dataset). */
  private static Iterator<Tuple2<Long, Row>> inRange(Iterator<Tuple2<Long, Row>> it, long from, long to) {
    return kept(it, t -> t._1() >= from && t._1() < to ? new Tuple2<>(t._1() - from, t._2()) : null);
  }

  /** {@code f} of each item of {@code it}, leaving out the items it maps to null; one item at a time. */
  private static <A, B> Iterator<B> kept(Iterator<A> it, java.util.function.Function<A, B> f) {
    return new Iterator<>() {
      private B next;

      @Override
      public boolean hasNext() {
        while (next == null && it.hasNext()) {
          next = f.apply(it.next());
        }
        return next != null;
      }

      @Override
      public B next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        B t = next;
        next = null;
        return t;
      }
    };
  }

  /** The two parts of {@link #trainTestSplit}. */
  public record Split(SparkDataset train, SparkDataset test) {}

  /**
   * Hugging Face's {@code train_test_split}: the rows of each part, in order, are those
   * {@link Dataset#trainTestSplit} gives for the same options (numpy's {@code default_rng(seed)} permutation,
   * or scikit-learn's stratified split). The order is computed by one executor task, which sends each
   * partition the positions of its rows; the rows then move once, to their part. The driver only learns the
   * sizes.
   */
  public Split trainTestSplit(TrainTestSplit split) {
    long[] sizes = split.sizes(numRows);
    long nTrain = sizes[0];
    long nTest = sizes[1];
    if (split.stratifyByColumn() != null && !split.shuffle()) {
      throw new IllegalArgumentException("Stratified splitting requires shuffle=true");
    }
    if (!split.shuffle()) {
      return new Split(selectRange(0, nTrain), selectRange(nTrain, nTrain + nTest));
    }
    long seed = split.seed() != null ? split.seed() : new java.security.SecureRandom().nextLong() & Long.MAX_VALUE;
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    long n = numRows;
    // The split's order (the test rows, then the train rows) made by one task, and sent as each partition's
    // positions: an array over the partition's indices, -1 for a row in neither part.
    long[] b = bounds;
    JavaPairRDD<Integer, long[]> where;
    String column = split.stratifyByColumn();
    if (column == null) {
      where = jsc.parallelize(List.of(0), 1).flatMapToPair(x -> {
        long[] perm = new NumpyRandom(seed).permutation(Math.toIntExact(n));
        return byPartition(perm, nTest + nTrain, b);
      });
    } else {
      int c = features.indexOf(column);
      // The partitions are in index order: coalesced into one, the labels arrive in order without a shuffle.
      where = rows.values().map(r -> r.get(c)).coalesce(1).mapPartitionsToPair(it -> {
        List<Object> y = new ArrayList<>();
        it.forEachRemaining(y::add);
        long[][] parts = Stratified.split(y, (int) nTrain, (int) nTest, new NumpyRandom(seed), column);
        long[] order = new long[parts[0].length + parts[1].length];
        System.arraycopy(parts[1], 0, order, 0, parts[1].length);
        System.arraycopy(parts[0], 0, order, parts[1].length, parts[0].length);
        return byPartition(order, order.length, b);
      });
    }
    int parts = bounds.length - 1;
    long[] one = new long[parts + 1];
    Arrays.setAll(one, i -> i);
    // Each partition's positions meet its rows where they are; the rows then move once, to their part.
    JavaPairRDD<Integer, long[]> routed = where.partitionBy(new IndexRanges(one));
    JavaPairRDD<Long, Row> placed = JavaPairRDD.fromJavaRDD(rows.zipPartitions(routed,
        (Iterator<Tuple2<Long, Row>> r, Iterator<Tuple2<Integer, long[]>> w) -> placed(r, w, b)));
    long[] testBounds = IndexRanges.even(nTest, parts);
    long[] trainBounds = IndexRanges.even(nTrain, parts);
    JavaPairRDD<Long, Row> test = placed.filter(t -> t._1() < nTest)
        .repartitionAndSortWithinPartitions(new IndexRanges(testBounds));
    JavaPairRDD<Long, Row> train = placed.filter(t -> t._1() >= nTest)
        .mapToPair(t -> new Tuple2<>(t._1() - nTest, t._2()))
        .repartitionAndSortWithinPartitions(new IndexRanges(trainBounds));
    return new Split(new SparkDataset(spark, features, trainBounds, train, null),
        new SparkDataset(spark, features, testBounds, test, null));
  }

  /**
   * For each partition p (holding the indices [bounds[p], bounds[p + 1])), the position in {@code order} of
   * each of its rows among the first {@code used}, or -1; made one partition at a time.
   */
  private static Iterator<Tuple2<Integer, long[]>> byPartition(long[] order, long used, long[] bounds) {
    long[] position = new long[order.length];
    Arrays.fill(position, -1);
    for (int j = 0; j < used; j++) {
      position[(int) order[j]] = j;
    }
    return new Iterator<>() {
      private int p;

      @Override
      public boolean hasNext() {
        return p < bounds.length - 1;
      }

      @Override
      public Tuple2<Integer, long[]> next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        int at = p++;
        return new Tuple2<>(at, Arrays.copyOfRange(position, (int) bounds[at], (int) bounds[at + 1]));
      }
    };
  }

  /** (position, row) for each row of a partition that has a position in {@code where}'s one array. */
  private static Iterator<Tuple2<Long, Row>> placed(Iterator<Tuple2<Long, Row>> rows,
      Iterator<Tuple2<Integer, long[]>> where, long[] bounds) {
    if (!where.hasNext()) {
      return java.util.Collections.emptyIterator();
    }
    Tuple2<Integer, long[]> w = where.next();
    long first = bounds[w._1()];
    long[] position = w._2();
    return kept(rows, r -> {
      long at = position[(int) (r._1() - first)];
      return at >= 0 ? new Tuple2<>(at, r._2()) : null;
    });
  }

  /** Unpersists the loaded rows from the executors (a view's close does nothing). */
  @Override
  public void close() {
    if (owned != null) {
      owned.unpersist(false);
    }
  }

  @Override
  public String toString() {
    return "SparkDataset{features: " + features + ", num_rows: " + numRows + "}";
  }

  /** Consecutive indices in consecutive partitions: partition p holds [bounds[p], bounds[p + 1]). */
  static final class IndexRanges extends Partitioner {
    private static final long serialVersionUID = 1L;
    private final long[] bounds;

    IndexRanges(long[] bounds) {
      this.bounds = bounds;
    }

    /** {@code count} indices in {@code parts} partitions (fewer for fewer indices), sizes differing by one. */
    static long[] even(long count, int parts) {
      int p = (int) Math.max(1, Math.min(parts, count));
      long[] b = new long[p + 1];
      for (int i = 0; i <= p; i++) {
        b[i] = count * i / p;
      }
      return b;
    }

    @Override
    public int numPartitions() {
      return bounds.length - 1;
    }

    @Override
    public int getPartition(Object key) {
      long k = ((Number) key).longValue();
      // The last partition whose first index is at most k (empty partitions share their first index).
      int lo = 0;
      int hi = bounds.length - 2;
      while (lo < hi) {
        int mid = (lo + hi + 1) >>> 1;
        if (bounds[mid] <= k) {
          lo = mid;
        } else {
          hi = mid - 1;
        }
      }
      return lo;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof IndexRanges r && Arrays.equals(r.bounds, bounds);
    }

    @Override
    public int hashCode() {
      return Arrays.hashCode(bounds);
    }
  }

  /**
   * The rows of a partition's files, parsed by the loaders' own parsers on a reader thread that stays a
   * bounded queue ahead (so a task never holds a whole file); the reader's error is thrown here, and the
   * reader is stopped when the task ends, is killed or fails.
   */
  private static final class FileRows implements Iterator<Row> {
    /** Rows handed from the reader thread at a time: 4 chunks of them wait in the queue. */
    private static final int CHUNK_ROWS = 256;
    private final DataFormat format;
    private final DatasetLoader.ParseSettings settings;
    private final Features features;
    private final String[] names;
    private final ColumnType[] types;
    private final List<InputFile> files;
    private final long[][] plan;
    private final Iterator<Integer> indices;
    private volatile PushToPull current;

    FileRows(DataFormat format, DatasetLoader.ParseSettings settings, Features features, List<InputFile> files,
        long[][] plan, Iterator<Integer> indices) {
      this.plan = plan;
      this.format = format;
      this.settings = settings;
      this.features = features;
      this.names = features.names().toArray(new String[0]);
      this.types = features.asMap().values().toArray(new ColumnType[0]);
      this.files = files;
      this.indices = indices;
      TaskContext task = TaskContext.get();
      if (task != null) {
        task.addTaskCompletionListener((org.apache.spark.util.TaskCompletionListener) t -> stop());
      }
    }

    @Override
    public boolean hasNext() {
      while (current == null || !current.hasNext()) {
        stop();
        if (!indices.hasNext()) {
          return false;
        }
        long[] piece = plan[indices.next()];
        InputFile f = files.get((int) piece[0]);
        InputFiles inputs = new InputFiles(settings.hadoop());
        current = new PushToPull(piece[1] < 0
            ? sink -> DatasetLoader.readFile(format, settings.options(), inputs, f, features, sink)
            : sink -> DatasetLoader.readLines(format, inputs, f, features, piece[1], piece[2], piece[3], sink),
            f.uri(), CHUNK_ROWS);
      }
      return true;
    }

    @Override
    public Row next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      Map<String, Object> row = current.next();
      Object[] values = new Object[types.length];
      for (int c = 0; c < types.length; c++) {
        values[c] = SparkArrow.rowValue(names[c], types[c], row.get(names[c]));
      }
      return RowFactory.create(values);
    }

    private void stop() {
      if (current != null) {
        current.close();
        current = null;
      }
    }
  }
}
