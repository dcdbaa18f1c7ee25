package io.sparkformers.jobs.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.sparkformers.datasets.ColumnType;
import io.sparkformers.datasets.Dataset;
import io.sparkformers.datasets.Features;
import io.sparkformers.datasets.ShardWriter;
import io.sparkformers.training.DatasetTrainingData;
import io.sparkformers.training.TrainingData;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.spark.Partitioner;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import scala.Tuple2;

/**
 * Prepared rows on their way to the ranks without passing through the driver: rows keyed by their split and
 * their index in it are repartitioned into one partition per rank and sorted there, the barrier stage runs
 * over that RDD, and each rank spills its partition once into local Arrow IPC files that it memory-maps for
 * every epoch. Train rows follow datasets' {@code split_dataset_by_node} (contiguous shards, the first
 * {@code rows % world_size} one row longer); evaluation rows are dealt by batch, rank r holding batches r,
 * r + world_size, ..., so that the ranks' gathered predictions come back in row order.
 */
final class RankShards {
  /** The key bit of an evaluation row (train rows have it clear). */
  static final long EVAL = 1L << 62;

  private RankShards() {}

  /**
   * What the barrier task's closure carries instead of the rows: the columns, the row counts and how they are
   * dealt. With {@code causalBlocks} the rows carry input_ids alone and each rank writes attention_mask (ones)
   * and labels (a copy of input_ids) itself, as group_texts makes them.
   */
  record Manifest(Features features, long trainRows, long evalRows, int worldSize, int evalBatchSize,
      boolean causalBlocks, List<String> labelNames, Integer blockSize, PreparedCache.Stored stored)
      implements Serializable {

    long[] trainShardRows() {
      long[] out = new long[worldSize];
      for (int r = 0; r < worldSize; r++) {
        out[r] = shardEnd(trainRows, worldSize, r) - shardStart(trainRows, worldSize, r);
      }
      return out;
    }
  }

  /** The first row of shard {@code index} of {@code n} rows cut into {@code shards} (datasets' contiguous shard). */
  static long shardStart(long n, int shards, int index) {
    long div = n / shards;
    long mod = n % shards;
    return div * index + Math.min(index, mod);
  }

  static long shardEnd(long n, int shards, int index) {
    return shardStart(n, shards, index) + n / shards + (index < n % shards ? 1 : 0);
  }

  /** The rank that holds train row {@code row}. */
  static int trainRank(long row, long n, int shards) {
    long div = n / shards;
    long mod = n % shards;
    long big = mod * (div + 1); // the rows of the first mod shards, one row longer each
    return (int) (row < big ? row / (div + 1) : mod + (row - big) / Math.max(1, div));
  }

  /** Sends each keyed row to its rank's partition. */
  static final class RankPartitioner extends Partitioner {
    private static final long serialVersionUID = 1L;
    private final long trainRows;
    private final int worldSize;
    private final int evalBatchSize;

    RankPartitioner(long trainRows, int worldSize, int evalBatchSize) {
      this.trainRows = trainRows;
      this.worldSize = worldSize;
      this.evalBatchSize = evalBatchSize;
    }

    @Override
    public int numPartitions() {
      return worldSize;
    }

    @Override
    public int getPartition(Object key) {
      long k = (Long) key;
      if ((k & EVAL) != 0) {
        return (int) (((k & ~EVAL) / evalBatchSize) % worldSize);
      }
      return trainRank(k, trainRows, worldSize);
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof RankPartitioner p && p.trainRows == trainRows && p.worldSize == worldSize
          && p.evalBatchSize == evalBatchSize;
    }

    @Override
    public int hashCode() {
      return Long.hashCode(trainRows) * 31 + worldSize * 7 + evalBatchSize;
    }
  }

  /**
   * The rows (null when the ranks read a cache instead), what the ranks are told about them, and what releases
   * the executors' cached blocks once the ranks are done.
   */
  record Prepared(JavaRDD<Tuple2<Long, Object[]>> rows, Manifest manifest, Runnable release) {
    Prepared(JavaRDD<Tuple2<Long, Object[]>> rows, Manifest manifest) {
      this(rows, manifest, () -> { });
    }
  }

  /** Keyed rows (train keys 0..n-1, eval keys EVAL | 0..m-1) as one sorted partition per rank. */
  static Prepared toRanks(JavaPairRDD<Long, Object[]> keyed, Manifest manifest) {
    checkRows(manifest);
    JavaPairRDD<Long, Object[]> byRank = keyed.repartitionAndSortWithinPartitions(
        new RankPartitioner(manifest.trainRows(), manifest.worldSize(), manifest.evalBatchSize()));
    return new Prepared(JavaRDD.fromRDD(byRank.rdd(), byRank.classTag()), manifest);
  }

  static void checkRows(Manifest manifest) {
    if (manifest.trainRows() < manifest.worldSize()) {
      throw new IllegalArgumentException("the train set has " + manifest.trainRows() + " rows, fewer than the "
          + manifest.worldSize() + " ranks (world_size) that each need a shard");
    }
  }

  /**
   * Rows prepared in the driver (without data.use_spark) as keyed
   * rows: they reach the executors as the tasks of a parallelized collection, not through the barrier closure.
   */
  static Prepared fromDriver(JavaSparkContext sc, JobData.Prepared data, int worldSize, int evalBatchSize) {
    Features features = features(data.train());
    List<Tuple2<Long, Object[]>> rows = new ArrayList<>();
    addRows(rows, data.train(), 0);
    addRows(rows, data.eval(), EVAL);
    Manifest m = new Manifest(features, data.train().rows(), data.eval().rows(), worldSize, evalBatchSize, false,
        data.labelNames(), data.blockSize(), null);
    int slices = Math.max(1, Math.min(rows.size(), sc.defaultParallelism()));
    return toRanks(JavaPairRDD.fromJavaRDD(sc.parallelize(rows, slices)), m);
  }

  /** float columns as float32 lists, width-1 integer columns as int64 scalars, wider ones as int32 lists. */
  private static Features features(TensorColumns c) {
    Features.Builder b = Features.builder();
    c.widths().forEach((name, w) -> b.add(name, c.floatColumn(name) != null ? ColumnType.FLOAT32_LIST
        : w == 1 ? ColumnType.INT64 : ColumnType.INT32_LIST));
    return b.build();
  }

  private static void addRows(List<Tuple2<Long, Object[]>> out, TensorColumns c, long split) {
    List<String> names = new ArrayList<>(c.widths().keySet());
    for (int r = 0; r < c.rows(); r++) {
      Object[] values = new Object[names.size()];
      for (int k = 0; k < values.length; k++) {
        String name = names.get(k);
        int w = c.widths().get(name);
        if (c.floatColumn(name) != null) {
          values[k] = Arrays.copyOfRange(c.floatColumn(name), r * w, (r + 1) * w);
        } else if (w == 1) {
          values[k] = c.longColumn(name)[r];
        } else {
          int[] ints = new int[w];
          long[] src = c.longColumn(name);
          for (int t = 0; t < w; t++) {
            ints[t] = Math.toIntExact(src[r * w + t]);
          }
          values[k] = ints;
        }
      }
      out.add(new Tuple2<>(split | r, values));
    }
  }

  /** A rank's rows: memory-mapped datasets, and what to delete when they are closed. */
  static final class Spilled implements AutoCloseable {
    final Dataset train;
    final Dataset eval;
    final long bytes;
    /** Of {@link #bytes}, those of the eval rows. */
    final long evalBytes;
    private final AutoCloseable after;

    Spilled(Dataset train, Dataset eval, long bytes, AutoCloseable after) {
      this(train, eval, bytes, -1, after);
    }

    Spilled(Dataset train, Dataset eval, long bytes, long evalBytes, AutoCloseable after) {
      this.train = train;
      this.eval = eval;
      this.bytes = bytes;
      this.evalBytes = evalBytes;
      this.after = after;
    }

    @Override
    public void close() throws Exception {
      try {
        train.close();
        eval.close();
      } finally {
        after.close();
      }
    }
  }

  /**
   * Writes this rank's partition (train rows, then eval rows, each in order) into two Arrow files under a new
   * folder of {@code localDir}, checks the counts against the manifest, and opens them memory-mapped.
   */
  static Spilled spill(Iterator<?> partition, Manifest m, int rank, Path localDir) throws IOException {
    Files.createDirectories(localDir);
    Path dir = Files.createTempDirectory(localDir, "sparkformers-rank" + rank + "-");
    Features written = m.causalBlocks() ? Features.builder().add("input_ids", ColumnType.INT32_LIST)
        .add("attention_mask", ColumnType.INT32_LIST).add("labels", ColumnType.INT32_LIST).build() : m.features();
    Dataset train = null;
    Dataset eval = null;
    try (ShardWriter t = ShardWriter.create(dir.resolve("train"), written);
        ShardWriter e = ShardWriter.create(dir.resolve("eval"), written)) {
      int[] ones = null;
      while (partition.hasNext()) {
        @SuppressWarnings("unchecked")
        Tuple2<Long, Object[]> row = (Tuple2<Long, Object[]>) partition.next();
        Object[] values = row._2();
        if (m.causalBlocks()) {
          int[] ids = (int[]) values[0];
          if (ones == null || ones.length != ids.length) {
            ones = new int[ids.length];
            Arrays.fill(ones, 1);
          }
          values = new Object[] {ids, ones, ids};
        }
        ((row._1() & EVAL) != 0 ? e : t).write(values);
      }
      long expected = m.trainShardRows()[rank];
      if (t.rows() != expected) {
        throw new IllegalStateException("rank " + rank + " received " + t.rows() + " train rows, its shard holds "
            + expected + " (of " + m.trainRows() + ")");
      }
      train = t.commit(true);
      eval = e.commit(true);
      long bytes = Files.size(train.files().get(0)) + Files.size(eval.files().get(0));
      return new Spilled(train, eval, bytes, () -> deleteQuietly(dir)); // the datasets delete their folders
    } catch (RuntimeException | IOException ex) {
      if (train != null) {
        train.close();
      }
      if (eval != null) {
        eval.close();
      }
      deleteQuietly(dir);
      throw ex;
    }
  }

  /** A rank's train data whose batch reads are timed (the data-loading share of a step). */
  static final class Timed implements TrainingData, AutoCloseable {
    private final DatasetTrainingData data;
    private long nanos;

    Timed(Dataset dataset, Collection<String> required) {
      this.data = new DatasetTrainingData(dataset, required, DatasetTrainingData.OPTIONAL_INPUTS);
    }

    long nanos() {
      return nanos;
    }

    @Override
    public long numRows() {
      return data.numRows();
    }

    @Override
    public Set<String> columns() {
      return data.columns();
    }

    @Override
    public Map<String, NDArray> batch(NDManager manager, long[] rows) {
      long start = System.nanoTime();
      try {
        return data.batch(manager, rows);
      } finally {
        nanos += System.nanoTime() - start;
      }
    }

    @Override
    public void close() {
      data.close();
    }
  }

  private static void deleteQuietly(Path p) {
    try {
      Files.deleteIfExists(p);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot delete the spill folder " + p, e);
    }
  }
}
