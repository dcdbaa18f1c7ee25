package io.sparkformers.datasets;

import io.sparkformers.datasets.internal.ArrowTable;
import io.sparkformers.datasets.internal.ArrowValues;
import io.sparkformers.datasets.internal.CacheDirectory;
import io.sparkformers.datasets.internal.Casts;
import io.sparkformers.datasets.internal.DatasetFolder;
import io.sparkformers.datasets.internal.Fingerprint;
import io.sparkformers.datasets.internal.FolderWriter;
import io.sparkformers.datasets.internal.NumpyRandom;
import io.sparkformers.datasets.internal.Stratified;
import java.io.IOException;
import java.io.NotSerializableException;
import java.io.ObjectStreamException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.UUID;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Predicate;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An immutable table of rows, like Hugging Face's {@code datasets.Dataset}: Arrow record batches memory-mapped
 * from Arrow IPC files, with a schema ({@link Features}), row and column access and batch iteration.
 *
 * <p>Transforms return new datasets and leave this one as it was. Those that only choose rows (select,
 * shuffle, filter, shard, sort, take, skip, train/test split) or columns (rename, remove, select) share the
 * mapped files through an indices mapping, as Hugging Face does; those that compute values (map, cast,
 * flattenIndices) write a new Arrow file into the cache folder, keyed by a fingerprint of this dataset's
 * fingerprint and the transform, and reuse it on an identical second run.
 *
 * <p>Each dataset must be closed; the files it maps stay alive while any dataset derived from them is open.
 *
 * <p>A dataset over files that outlive it (loaded, cached or saved) is {@link Serializable}: what crosses is
 * its file paths, rows and columns, and the other side maps the same files again (a Spark task of
 * {@code local[N]}, or executors that reach the paths through a shared file system). The copy is a dataset of
 * its own, to be closed where it is used.
 */
public final class Dataset implements AutoCloseable, Serializable {
  private static final long serialVersionUID = 1L;
  private static final Logger LOG = LoggerFactory.getLogger(Dataset.class);

  private final ArrowTable table;
  private final long[] indices;
  private final int[] columnSources;
  private final Features features;
  private final String fingerprint;
  private final Path cacheDir;
  private final ColumnType[] types;
  private boolean closed;

  private Dataset(ArrowTable table, long[] indices, int[] columnSources, Features features, String fingerprint,
      Path cacheDir) {
    this.types = features.asMap().values().toArray(new ColumnType[0]);
    this.table = table;
    this.indices = indices;
    this.columnSources = columnSources;
    this.features = features;
    this.fingerprint = fingerprint;
    this.cacheDir = cacheDir;
  }

  private static int[] identityColumns(int n) {
    int[] c = new int[n];
    for (int i = 0; i < n; i++) {
      c[i] = i;
    }
    return c;
  }

  /** A dataset over a new table this object now owns (the table's one reference becomes this dataset's). */
  private static Dataset over(ArrowTable table, String fingerprint, Path cacheDir) {
    return new Dataset(table, null, identityColumns(table.features().size()), table.features(), fingerprint,
        cacheDir);
  }

  private Dataset derive(long[] newIndices, int[] newColumns, Features newFeatures, String newFingerprint) {
    return new Dataset(table.retain(), newIndices, newColumns, newFeatures, newFingerprint, cacheDir);
  }

  // ---------------------------------------------------------------- creating

  /** A dataset from rows given as maps (missing keys are null), written into the default cache folder. */
  public static Dataset fromRows(Features features, List<? extends Map<String, ?>> rows) {
    return fromRows(features, rows, CacheDirectory.resolve(null));
  }

  /** As {@link #fromRows(Features, List)}, with its files in {@code cacheDir}. */
  public static Dataset fromRows(Features features, List<? extends Map<String, ?>> rows, Path cacheDir) {
    Path folder = CacheDirectory.newTemporaryFolder(cacheDir);
    try (FolderWriter w = new FolderWriter(folder, features)) {
      for (Map<String, ?> row : rows) {
        checkKeys(row, features);
        @SuppressWarnings("unchecked")
        Map<String, Object> r = (Map<String, Object>) row;
        w.write(r);
      }
      DatasetFolder.State state = w.finish(Fingerprint.random());
      return open(folder, state, cacheDir, folder);
    } catch (RuntimeException e) {
      ArrowTable.deleteRecursively(folder);
      throw e;
    }
  }

  private static void checkKeys(Map<String, ?> row, Features features) {
    for (String k : row.keySet()) {
      if (!features.contains(k)) {
        throw new IllegalArgumentException("Row has column '" + k + "' that is not among " + features.names());
      }
    }
  }

  /**
   * A dataset from columns of equal length (Hugging Face's {@code from_dict}), types inferred from the
   * values: Integer → INT32, Long → INT64, Double → FLOAT64, String → STRING, int[] → INT32_LIST, ...
   */
  public static Dataset fromColumns(Map<String, ? extends List<?>> columns, Path cacheDir) {
    int n = -1;
    for (Map.Entry<String, ? extends List<?>> e : columns.entrySet()) {
      if (n >= 0 && e.getValue().size() != n) {
        throw new IllegalArgumentException("Column '" + e.getKey() + "' has " + e.getValue().size()
            + " values, the columns before it " + n);
      }
      n = e.getValue().size();
    }
    Path folder = CacheDirectory.newTemporaryFolder(cacheDir);
    try (FolderWriter w = new FolderWriter(folder, null)) {
      columns.keySet().forEach(c -> w.declare(c, null));
      for (int i = 0; i < Math.max(n, 0); i++) {
        Map<String, Object> row = new LinkedHashMap<>();
        for (Map.Entry<String, ? extends List<?>> e : columns.entrySet()) {
          row.put(e.getKey(), e.getValue().get(i));
        }
        w.write(row);
      }
      DatasetFolder.State state = w.finish(Fingerprint.random());
      return open(folder, state, cacheDir, folder);
    } catch (RuntimeException e) {
      ArrowTable.deleteRecursively(folder);
      throw e;
    }
  }

  public static Dataset fromColumns(Map<String, ? extends List<?>> columns) {
    return fromColumns(columns, CacheDirectory.resolve(null));
  }

  /** Opens a dataset folder written by {@link #saveToDisk}, the cache, or {@code datasets convert}. */
  public static Dataset loadFromDisk(Path folder) {
    return open(folder, DatasetFolder.read(folder), CacheDirectory.resolve(null), null);
  }

  /** Loads files (see {@link DatasetLoader}); a shortcut for {@code DatasetLoader.load(format, options, paths)}. */
  public static Dataset load(DataFormat format, LoadOptions options, String... paths) {
    return DatasetLoader.load(format, options, List.of(paths));
  }

  static Dataset open(Path folder, DatasetFolder.State state, Path cacheDir, Path owned) {
    List<Path> paths = new ArrayList<>();
    state.files().forEach(f -> paths.add(folder.resolve(f)));
    ArrowTable table = ArrowTable.open(state.features(), paths, owned);
    if (table.rows() != state.rows()) {
      table.release();
      throw new IllegalArgumentException(folder + ": " + DatasetFolder.STATE_FILE + " says " + state.rows()
          + " rows, the Arrow files hold " + table.rows());
    }
    return over(table, state.fingerprint(), cacheDir);
  }

  /**
   * Writes rows into the cache under {@code fingerprint} (or reuses what is there), or, when
   * {@code fingerprint} is null, into a temporary folder deleted with the dataset.
   */
  static Dataset writeCached(Path cacheDir, String fingerprint, String what, Features features,
      Consumer<FolderWriter> body) {
    return writeCached(cacheDir, fingerprint, true, what, features, body);
  }

  /**
   * As above; with {@code useCache} false (the input is itself temporary, as Hugging Face does not cache
   * transforms of in-memory datasets) the result goes to a temporary folder but keeps {@code fingerprint}.
   */
  static Dataset writeCached(Path cacheDir, String fingerprint, boolean useCache, String what, Features features,
      Consumer<FolderWriter> body) {
    if (fingerprint != null && useCache) {
      Path folder = cacheDir.resolve(fingerprint);
      if (DatasetFolder.isComplete(folder)) {
        LOG.info("Loading cached {} from {}", what, folder);
        return open(folder, DatasetFolder.read(folder), cacheDir, null);
      }
      Path temp = cacheDir.resolve(".tmp-" + UUID.randomUUID());
      try (FolderWriter w = new FolderWriter(temp, features)) {
        body.accept(w);
        w.finish(fingerprint);
      } catch (RuntimeException e) {
        ArrowTable.deleteRecursively(temp);
        throw e;
      }
      try {
        Files.move(temp, folder, StandardCopyOption.ATOMIC_MOVE);
      } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
        ArrowTable.deleteRecursively(temp); // another process wrote the same result first
      } catch (AtomicMoveNotSupportedException e) {
        throw new UncheckedIOException("Cache folder " + cacheDir + " does not support atomic renames", e);
      } catch (IOException e) {
        ArrowTable.deleteRecursively(temp);
        throw new UncheckedIOException("Cannot write the cache folder " + folder, e);
      }
      LOG.info("Wrote {} to the cache folder {}", what, folder);
      return open(folder, DatasetFolder.read(folder), cacheDir, null);
    }
    Path folder = CacheDirectory.newTemporaryFolder(cacheDir);
    try (FolderWriter w = new FolderWriter(folder, features)) {
      body.accept(w);
      DatasetFolder.State state = w.finish(fingerprint != null ? fingerprint : Fingerprint.random());
      return open(folder, state, cacheDir, folder);
    } catch (RuntimeException e) {
      ArrowTable.deleteRecursively(folder);
      throw e;
    }
  }

  /** Whether results of transforms go into the cache (see {@link #writeCached}). */
  private boolean cacheable() {
    return table.isPersistent();
  }

  // ---------------------------------------------------------------- reading

  public long numRows() {
    checkOpen();
    return indices == null ? table.rows() : indices.length;
  }

  public Features features() {
    return features;
  }

  public List<String> columnNames() {
    return features.names();
  }

  /**
   * The fingerprint: a hash of the sources' identity and every transform since. Equal fingerprints mean
   * equal contents.
   */
  public String fingerprint() {
    return fingerprint;
  }

  /** The cache folder this dataset writes its transforms' results into. */
  public Path cacheDir() {
    return cacheDir;
  }

  /** This dataset, writing its transforms' results into {@code folder} instead. */
  public Dataset withCacheDir(Path folder) {
    return new Dataset(table.retain(), indices, columnSources, features, fingerprint, folder);
  }

  /** The Arrow files behind this dataset (before any indices mapping). */
  public List<Path> files() {
    return table.paths();
  }

  /** True when rows are read through an indices mapping (after select, shuffle, filter ...). */
  public boolean hasIndicesMapping() {
    return indices != null;
  }

  private long tableRow(long row) {
    long n = numRows();
    if (row < 0 || row >= n) {
      throw new IndexOutOfBoundsException("Row " + row + " is out of range: the dataset has " + n + " rows");
    }
    return indices == null ? row : indices[(int) row];
  }

  /** The value of {@code column} in {@code row}, as {@link ColumnType#javaClass()} or null. */
  public Object get(long row, String column) {
    return valueAt(tableRow(row), features.indexOf(column));
  }

  private Object valueAt(long tableRow, int column) {
    int b = table.batchOf(tableRow);
    VectorSchemaRoot batch = table.batches().get(b);
    FieldVector v = batch.getFieldVectors().get(columnSources[column]);
    return ArrowValues.get(v, types[column], (int) (tableRow - table.batchStart(b)));
  }

  /** One row as a map from column name to value, in column order. */
  public Map<String, Object> row(long row) {
    long tr = tableRow(row);
    int b = table.batchOf(tr);
    int offset = (int) (tr - table.batchStart(b));
    List<FieldVector> vectors = table.batches().get(b).getFieldVectors();
    Map<String, Object> out = new LinkedHashMap<>();
    int c = 0;
    for (Map.Entry<String, ColumnType> e : features.asMap().entrySet()) {
      out.put(e.getKey(), ArrowValues.get(vectors.get(columnSources[c++]), e.getValue(), offset));
    }
    return out;
  }

  /** Every value of one column, in row order. */
  public List<Object> column(String name) {
    int c = features.indexOf(name);
    long n = numRows();
    List<Object> out = new ArrayList<>((int) n);
    for (long i = 0; i < n; i++) {
      out.add(valueAt(tableRow(i), c));
    }
    return out;
  }

  /** The rows in order. */
  public Iterable<Map<String, Object>> rows() {
    checkOpen();
    return () -> new Iterator<>() {
      private long next;

      @Override
      public boolean hasNext() {
        return next < numRows();
      }

      @Override
      public Map<String, Object> next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        return row(next++);
      }
    };
  }

  /** Rows in batches of {@code batchSize} as column → values (Hugging Face's {@code iter(batch_size)}). */
  public Iterable<Map<String, List<Object>>> iter(int batchSize) {
    if (batchSize <= 0) {
      throw new IllegalArgumentException("batchSize must be positive, got " + batchSize);
    }
    return () -> new Iterator<>() {
      private long next;

      @Override
      public boolean hasNext() {
        return next < numRows();
      }

      @Override
      public Map<String, List<Object>> next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        long end = Math.min(numRows(), next + batchSize);
        Map<String, List<Object>> batch = columnsOf(next, end);
        next = end;
        return batch;
      }
    };
  }

  private Map<String, List<Object>> columnsOf(long start, long end) {
    Map<String, List<Object>> batch = new LinkedHashMap<>();
    features.names().forEach(n -> batch.put(n, new ArrayList<>((int) (end - start))));
    for (long r = start; r < end; r++) {
      Map<String, Object> row = row(r);
      row.forEach((k, v) -> batch.get(k).add(v));
    }
    return batch;
  }

  /**
   * The Arrow record batches themselves, zero copy, for fast column scans. Only for a dataset without an
   * indices mapping: call {@link #flattenIndices()} first otherwise.
   */
  public List<RecordBatch> recordBatches() {
    checkOpen();
    if (indices != null) {
      throw new IllegalStateException("This dataset reads its rows through an indices mapping (after select,"
          + " shuffle, filter, ...): call flattenIndices() to get contiguous record batches");
    }
    List<RecordBatch> out = new ArrayList<>();
    for (VectorSchemaRoot root : table.batches()) {
      out.add(new RecordBatch(root, columnSources, features, table));
    }
    return out;
  }

  // ---------------------------------------------------------------- choosing rows (indices mapping)

  private long[] currentIndices() {
    if (indices != null) {
      return indices;
    }
    long n = table.rows();
    if (n > Integer.MAX_VALUE - 8) {
      throw new IllegalStateException("An indices mapping holds at most 2^31 rows; this dataset has " + n);
    }
    long[] all = new long[(int) n];
    for (int i = 0; i < all.length; i++) {
      all[i] = i;
    }
    return all;
  }

  private long[] compose(long[] rows) {
    long[] base = indices;
    long n = numRows();
    long[] out = new long[rows.length];
    for (int i = 0; i < rows.length; i++) {
      long r = rows[i];
      if (r < 0 || r >= n) {
        throw new IndexOutOfBoundsException("Index " + r + " (position " + i + ") is out of range: the dataset"
            + " has " + n + " rows");
      }
      out[i] = base == null ? r : base[(int) r];
    }
    return out;
  }

  /** The rows at {@code rows}, in that order (repeats allowed). */
  public Dataset select(long... rows) {
    checkOpen();
    return derive(compose(rows), columnSources, features,
        Fingerprint.of(fingerprint, "select", Fingerprint.ofIndices(rows)));
  }

  /** The rows from {@code start} (inclusive) to {@code end} (exclusive). */
  public Dataset selectRange(long start, long end) {
    checkOpen();
    if (start < 0 || end < start || end > numRows()) {
      throw new IndexOutOfBoundsException("Range [" + start + ", " + end + ") is outside [0, " + numRows() + "]");
    }
    long[] rows = new long[(int) (end - start)];
    for (int i = 0; i < rows.length; i++) {
      rows[i] = start + i;
    }
    return derive(compose(rows), columnSources, features, Fingerprint.of(fingerprint, "select_range", start, end));
  }

  /** The first {@code n} rows (all of them when there are fewer). */
  public Dataset take(long n) {
    return selectRange(0, Math.min(Math.max(n, 0), numRows()));
  }

  /** All but the first {@code n} rows. */
  public Dataset skip(long n) {
    return selectRange(Math.min(Math.max(n, 0), numRows()), numRows());
  }

  /**
   * The rows in the order of numpy's {@code default_rng(seed).permutation(numRows)}: the order Hugging
   * Face's {@code shuffle(seed=seed)} gives.
   */
  public Dataset shuffle(long seed) {
    checkOpen();
    long[] perm = new NumpyRandom(seed).permutation(Math.toIntExact(numRows()));
    return derive(compose(perm), columnSources, features, Fingerprint.of(fingerprint, "shuffle", seed));
  }

  /** The rows for which {@code predicate} holds. A failing predicate is reported with the row index. */
  public Dataset filter(Predicate<Map<String, Object>> predicate) {
    checkOpen();
    long n = numRows();
    long[] keep = new long[(int) Math.min(n, Integer.MAX_VALUE - 8)];
    int kept = 0;
    for (long i = 0; i < n; i++) {
      boolean ok;
      try {
        ok = predicate.test(row(i));
      } catch (RuntimeException e) {
        throw new TransformException("filter failed on row " + i + ": " + e, i, e);
      }
      if (ok) {
        keep[kept++] = i;
      }
    }
    long[] rows = Arrays.copyOf(keep, kept);
    // The rows kept identify the result, whatever the predicate was.
    return derive(compose(rows), columnSources, features, Fingerprint.of(fingerprint, "filter",
        Fingerprint.ofIndices(rows)));
  }

  /**
   * Rows sorted by {@code column}, ascending (or descending), nulls last, equal values in their present
   * order (a stable sort, like Arrow's {@code sort_indices} that Hugging Face uses).
   */
  public Dataset sort(String column, boolean descending) {
    checkOpen();
    int c = features.indexOf(column);
    ColumnType type = features.type(column);
    if (type.isList()) {
      throw new IllegalArgumentException("Cannot sort by list column '" + column + "'");
    }
    int n = Math.toIntExact(numRows());
    Object[] values = new Object[n];
    Long[] order = new Long[n];
    for (int i = 0; i < n; i++) {
      values[i] = valueAt(tableRow(i), c);
      order[i] = (long) i;
    }
    @SuppressWarnings("unchecked")
    Comparator<Object> natural = (a, b) -> ((Comparable<Object>) a).compareTo(b);
    Comparator<Object> byValue = descending ? natural.reversed() : natural;
    Arrays.sort(order, (a, b) -> {
      Object va = values[(int) (long) a];
      Object vb = values[(int) (long) b];
      if (va == null || vb == null) {
        return va == null ? (vb == null ? 0 : 1) : -1;
      }
      return byValue.compare(va, vb);
    });
    long[] rows = new long[n];
    for (int i = 0; i < n; i++) {
      rows[i] = order[i];
    }
    return derive(compose(rows), columnSources, features, Fingerprint.of(fingerprint, "sort", column, descending));
  }

  /**
   * Shard {@code index} of {@code numShards}, contiguous like Hugging Face's {@code shard(contiguous=True)}:
   * the first {@code numRows % numShards} shards hold one row more.
   */
  public Dataset shard(int numShards, int index) {
    if (numShards <= 0 || index < 0 || index >= numShards) {
      throw new IllegalArgumentException("index must be in [0, numShards); got index " + index + " of "
          + numShards);
    }
    long n = numRows();
    long div = n / numShards;
    long mod = n % numShards;
    long start = div * index + Math.min(index, mod);
    long end = start + div + (index < mod ? 1 : 0);
    return selectRange(start, end);
  }

  /**
   * The part of this dataset that rank {@code rank} of {@code worldSize} reads: Hugging Face's
   * {@code split_dataset_by_node} for a map-style dataset, that is {@code shard(worldSize, rank)}. Shards
   * differ by at most one row; {@link DataLoader} evens out the number of batches across ranks.
   */
  public Dataset splitByNode(int rank, int worldSize) {
    return shard(worldSize, rank);
  }

  /** Splits into "train" and "test" as {@link TrainTestSplit} describes. */
  public DatasetDict trainTestSplit(TrainTestSplit split) {
    checkOpen();
    long n = numRows();
    long[] sizes = split.sizes(n);
    int nTrain = (int) sizes[0];
    int nTest = (int) sizes[1];
    long seed = split.seed() != null ? split.seed() : new java.security.SecureRandom().nextLong() & Long.MAX_VALUE;
    long[] train;
    long[] test;
    if (split.stratifyByColumn() != null) {
      if (!split.shuffle()) {
        throw new IllegalArgumentException("Stratified splitting requires shuffle=true");
      }
      long[][] parts = Stratified.split(column(split.stratifyByColumn()), nTrain, nTest, new NumpyRandom(seed),
          split.stratifyByColumn());
      train = parts[0];
      test = parts[1];
    } else if (split.shuffle()) {
      long[] perm = new NumpyRandom(seed).permutation((int) n);
      test = Arrays.copyOfRange(perm, 0, nTest);
      train = Arrays.copyOfRange(perm, nTest, nTest + nTrain);
    } else {
      train = new long[nTrain];
      test = new long[nTest];
      for (int i = 0; i < nTrain; i++) {
        train[i] = i;
      }
      for (int i = 0; i < nTest; i++) {
        test[i] = nTrain + i;
      }
    }
    String key = Fingerprint.of(fingerprint, "train_test_split", nTrain, nTest, split.shuffle(), seed,
        split.stratifyByColumn());
    Dataset trainSet = derive(compose(train), columnSources, features, Fingerprint.of(key, "train"));
    Dataset testSet = derive(compose(test), columnSources, features, Fingerprint.of(key, "test"));
    Map<String, Dataset> splits = new LinkedHashMap<>();
    splits.put("train", trainSet);
    splits.put("test", testSet);
    return new DatasetDict(splits);
  }

  // ---------------------------------------------------------------- columns

  public Dataset renameColumn(String from, String to) {
    return renameColumns(Map.of(from, to));
  }

  /** Renames columns (old name → new name); the data is not copied. */
  public Dataset renameColumns(Map<String, String> renames) {
    checkOpen();
    renames.keySet().forEach(features::indexOf);
    Features.Builder b = Features.builder();
    features.asMap().forEach((n, t) -> b.add(renames.getOrDefault(n, n), t));
    return derive(indices, columnSources, b.build(), Fingerprint.of(fingerprint, "rename", new java.util.TreeMap<>(
        renames)));
  }

  /** Drops columns; the data is not copied. */
  public Dataset removeColumns(String... names) {
    checkOpen();
    List<String> drop = List.of(names);
    drop.forEach(features::indexOf);
    List<String> keep = new ArrayList<>(features.names());
    keep.removeAll(drop);
    return selectColumns(keep.toArray(new String[0]));
  }

  /** Keeps only {@code names}, in that order; the data is not copied. */
  public Dataset selectColumns(String... names) {
    checkOpen();
    Features.Builder b = Features.builder();
    int[] sources = new int[names.length];
    for (int i = 0; i < names.length; i++) {
      sources[i] = columnSources[features.indexOf(names[i])];
      b.add(names[i], features.type(names[i]));
    }
    return derive(indices, sources, b.build(), Fingerprint.of(fingerprint, "select_columns", List.of(names)));
  }

  /**
   * Converts a column to another type: numbers to numbers (a fractional value into an integer column is an
   * error, as pyarrow's safe cast), anything to STRING, STRING to numbers and booleans by parsing, lists
   * element by element. Writes a new Arrow file.
   */
  public Dataset castColumn(String column, ColumnType to) {
    checkOpen();
    features.indexOf(column);
    Features.Builder b = Features.builder();
    features.asMap().forEach((n, t) -> b.add(n, n.equals(column) ? to : t));
    Features out = b.build();
    String fp = Fingerprint.of(fingerprint, "cast", column, to);
    return writeCached(cacheDir, fp, cacheable(), "cast of '" + column + "'", out, w -> {
      for (long i = 0; i < numRows(); i++) {
        Map<String, Object> row = row(i);
        try {
          row.put(column, Casts.cast(row.get(column), to));
        } catch (RuntimeException e) {
          throw new TransformException("Cannot cast column '" + column + "' to " + to + " at row " + i + ": "
              + e.getMessage(), i, e);
        }
        w.write(row);
      }
    });
  }

  /** A dataset with the same rows, written contiguously: no indices mapping, no column mapping. */
  public Dataset flattenIndices() {
    return flatten(cacheable());
  }

  private Dataset flatten(boolean useCache) {
    checkOpen();
    String fp = Fingerprint.of(fingerprint, "flatten_indices");
    return writeCached(cacheDir, fp, useCache, "flattened indices", features, w -> {
      for (long i = 0; i < numRows(); i++) {
        w.write(row(i));
      }
    });
  }

  /** Writes this dataset (its visible rows and columns) as a dataset folder {@link #loadFromDisk} opens. */
  public void saveToDisk(Path folder) {
    checkOpen();
    if (Files.exists(folder.resolve(DatasetFolder.STATE_FILE))) {
      throw new IllegalArgumentException(folder + " already holds a dataset; remove it first");
    }
    try (FolderWriter w = new FolderWriter(folder, features)) {
      for (long i = 0; i < numRows(); i++) {
        w.write(row(i));
      }
      w.finish(fingerprint);
    }
  }

  // ---------------------------------------------------------------- map

  /**
   * Applies {@code function} to every row. The row it returns updates the input row (new columns are
   * added, columns it names are replaced), minus {@code removeColumns}. A failure names the row.
   */
  public Dataset map(Function<Map<String, Object>, Map<String, ?>> function, MapOptions options) {
    checkOpen();
    String fp = mapFingerprint("map", options);
    return writeCached(cacheDir, fp, cacheable(), "map " + options.functionName(), options.features(), w -> {
      declareKeptColumns(w, options);
      for (long i = 0; i < numRows(); i++) {
        Map<String, Object> row = row(i);
        Map<String, ?> update;
        try {
          update = function.apply(new LinkedHashMap<>(row));
        } catch (RuntimeException e) {
          throw new TransformException("map function failed on row " + i + ": " + e, i, e);
        }
        options.removeColumns().forEach(row::remove);
        if (update != null) {
          row.putAll(update);
        }
        w.write(row);
      }
    });
  }

  /**
   * Applies {@code function} to batches of {@code options.batchSize()} rows given as column → values. It may
   * return a different number of rows (to split or group examples) when every input column is removed or
   * replaced; otherwise the columns it returns are added to the batch.
   */
  public Dataset mapBatched(Function<Map<String, List<Object>>, Map<String, ? extends List<?>>> function,
      MapOptions options) {
    checkOpen();
    String fp = mapFingerprint("map_batched", options);
    long n = numRows();
    long step = options.batchSize() <= 0 ? Math.max(n, 1) : options.batchSize();
    return writeCached(cacheDir, fp, cacheable(), "map " + options.functionName(), options.features(), w -> {
      declareKeptColumns(w, options);
      applyBatched(function, options, 0, n, step, w::write);
    });
  }

  /** Runs a batched map over rows [from, to) in batches of {@code step}, passing each output row to {@code sink}. */
  private void applyBatched(Function<Map<String, List<Object>>, Map<String, ? extends List<?>>> function,
      MapOptions options, long from, long to, long step, java.util.function.Consumer<Map<String, Object>> sink) {
    for (long start = from; start < to; start += step) {
      long end = Math.min(to, start + step);
      Map<String, List<Object>> batch = columnsOf(start, end);
      Map<String, ? extends List<?>> update;
      try {
        update = function.apply(copyOf(batch));
      } catch (RuntimeException e) {
        throw new TransformException("map function failed on the batch of rows " + start + ".." + (end - 1)
            + ": " + e, start, e);
      }
      options.removeColumns().forEach(batch::remove);
      int outRows = (int) (end - start);
      if (update != null) {
        Integer len = null;
        for (Map.Entry<String, ? extends List<?>> e : update.entrySet()) {
          if (len != null && e.getValue().size() != len) {
            throw new TransformException("map function returned columns of different lengths for rows "
                + start + ".." + (end - 1) + ": '" + e.getKey() + "' has " + e.getValue().size() + ", others "
                + len, start, null);
          }
          len = e.getValue().size();
        }
        if (len != null && len != outRows) {
          for (String kept : batch.keySet()) {
            if (!update.containsKey(kept)) {
              throw new TransformException("map function returned " + len + " rows for the " + outRows
                  + " rows " + start + ".." + (end - 1) + " while input column '" + kept + "' is kept: remove"
                  + " the input columns (removeColumns) when changing the number of rows", start, null);
            }
          }
          batch.clear();
          outRows = len;
        }
        update.forEach((k, v) -> batch.put(k, new ArrayList<>(v)));
      }
      for (int r = 0; r < outRows; r++) {
        Map<String, Object> row = new LinkedHashMap<>();
        for (Map.Entry<String, List<Object>> e : batch.entrySet()) {
          row.put(e.getKey(), e.getValue().get(r));
        }
        sink.accept(row);
      }
    }
  }

  /** A batched map function that Spark can ship to executors. */
  public interface SerializableBatchFunction
      extends Function<Map<String, List<Object>>, Map<String, ? extends List<?>>>, java.io.Serializable {}

  /**
   * {@link #mapBatched} run in parallel by Spark tasks: the rows are split into as many contiguous ranges as the
   * session's default parallelism, each task maps its range (reading the Arrow files, which it must reach) and
   * writes one Arrow shard; the shards, in order, form the result. The output columns come from
   * {@code options.features()} or from running the function on the first batch here.
   */
  public Dataset mapBatched(org.apache.spark.sql.SparkSession spark, SerializableBatchFunction function,
      MapOptions options) {
    checkOpen();
    if (!isPlain()) {
      try (Dataset flat = flattenIndices()) {
        return flat.mapBatched(spark, function, options);
      }
    }
    String fp = mapFingerprint("map_batched", options);
    long n = numRows();
    long step = options.batchSize() <= 0 ? Math.max(n, 1) : options.batchSize();
    Features out = options.features();
    if (out == null) {
      // The output's columns from the first batch, with the same inference as the in-process map.
      Path probe = CacheDirectory.newTemporaryFolder(cacheDir);
      try (FolderWriter w = new FolderWriter(probe, null)) {
        declareKeptColumns(w, options);
        applyBatched(function, options, 0, Math.min(n, step), step, w::write);
        out = w.finish("probe").features();
      } finally {
        ArrowTable.deleteRecursively(probe);
      }
    }
    Path folder = fp != null && cacheable() ? cacheDir.resolve(fp) : null;
    if (folder != null && DatasetFolder.isComplete(folder)) {
      LOG.info("Loading cached map {} from {}", options.functionName(), folder);
      return open(folder, DatasetFolder.read(folder), cacheDir, null);
    }
    Path temp = folder != null ? cacheDir.resolve(".tmp-" + UUID.randomUUID())
        : CacheDirectory.newTemporaryFolder(cacheDir);
    org.apache.spark.api.java.JavaSparkContext jsc =
        org.apache.spark.api.java.JavaSparkContext.fromSparkContext(spark.sparkContext());
    int parts = (int) Math.max(1, Math.min(jsc.defaultParallelism(), (n + step - 1) / step));
    List<long[]> ranges = new ArrayList<>();
    long batches = (n + step - 1) / step;
    for (int i = 0; i < parts; i++) {
      // Whole batches per task, so that batch boundaries are those of the in-process map.
      long from = Math.min(n, (batches * i / parts) * step);
      long to = Math.min(n, (batches * (i + 1) / parts) * step);
      ranges.add(new long[] {from, to});
    }
    List<String> inputs = new ArrayList<>();
    table.paths().forEach(p -> inputs.add(p.toAbsolutePath().toString()));
    Features in = features;
    Features outFeatures = out;
    String target = temp.toAbsolutePath().toString();
    String cache = cacheDir.toAbsolutePath().toString();
    try {
      List<Long> counts = jsc.parallelize(ranges, parts).mapPartitionsWithIndex(
          (Integer index, Iterator<long[]> it) -> {
            List<Path> paths = new ArrayList<>();
            inputs.forEach(p -> paths.add(Path.of(p)));
            long rows = 0;
            try (Dataset source = over(ArrowTable.open(in, paths, null), "task", Path.of(cache));
                io.sparkformers.datasets.internal.ArrowShardWriter w = new io.sparkformers.datasets.internal
                    .ArrowShardWriter(Path.of(target).resolve(DatasetFolder.fileName(index, parts)), outFeatures,
                    io.sparkformers.datasets.internal.ArrowShardWriter.DEFAULT_BATCH_ROWS)) {
              while (it.hasNext()) {
                long[] r = it.next();
                source.applyBatched(function, options, r[0], r[1], step, w::write);
              }
              w.commit();
              rows = w.rows();
            }
            return List.of(rows).iterator();
          }, true).collect();
      List<String> files = new ArrayList<>();
      long total = 0;
      for (int i = 0; i < parts; i++) {
        files.add(DatasetFolder.fileName(i, parts));
        total += counts.get(i);
      }
      DatasetFolder.State state = new DatasetFolder.State(fp != null ? fp : Fingerprint.random(), outFeatures, total,
          files);
      DatasetFolder.write(temp, state);
      if (folder == null) {
        return open(temp, state, cacheDir, temp);
      }
      try {
        Files.move(temp, folder, StandardCopyOption.ATOMIC_MOVE);
      } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
        ArrowTable.deleteRecursively(temp);
      }
      LOG.info("Wrote map {} with Spark to the cache folder {}", options.functionName(), folder);
      return open(folder, DatasetFolder.read(folder), cacheDir, null);
    } catch (Exception e) { // SparkException is checked but thrown undeclared from Scala
      ArrowTable.deleteRecursively(temp);
      if (e instanceof TransformException) {
        throw (TransformException) e;
      }
      String m = String.valueOf(e.getMessage());
      int at = m.indexOf(TransformException.class.getName() + ": ");
      if (at >= 0) {
        String rest = m.substring(at + TransformException.class.getName().length() + 2);
        int nl = rest.indexOf('\n');
        throw new TransformException(nl >= 0 ? rest.substring(0, nl) : rest, -1, e);
      }
      throw e instanceof RuntimeException ? (RuntimeException) e : new IllegalStateException(e.getMessage(), e);
    }
  }

  private void declareKeptColumns(FolderWriter w, MapOptions options) {
    for (String name : features.names()) {
      if (!options.removeColumns().contains(name)) {
        w.declare(name, null);
      }
    }
    options.removeColumns().forEach(features::indexOf);
  }

  private static Map<String, List<Object>> copyOf(Map<String, List<Object>> batch) {
    Map<String, List<Object>> copy = new LinkedHashMap<>();
    batch.forEach((k, v) -> copy.put(k, new ArrayList<>(v)));
    return copy;
  }

  private String mapFingerprint(String kind, MapOptions options) {
    if (!options.isCacheable()) {
      LOG.warn("The {} function has no declared name and version (MapOptions.function(name, version)), so its"
          + " result cannot be fingerprinted: it runs without the cache", kind);
      return null;
    }
    return Fingerprint.of(fingerprint, kind, options.functionName(), options.functionVersion(),
        options.batchSize(), options.removeColumns(), options.features());
  }

  // ---------------------------------------------------------------- combining

  /** The rows of {@code datasets} one after the other; all must have the same features. */
  public static Dataset concatenate(List<Dataset> datasets) {
    if (datasets.isEmpty()) {
      throw new IllegalArgumentException("Nothing to concatenate");
    }
    Features first = datasets.get(0).features;
    List<ArrowTable> tables = new ArrayList<>();
    List<Dataset> flattened = new ArrayList<>();
    List<String> fps = new ArrayList<>();
    try {
      for (int i = 0; i < datasets.size(); i++) {
        Dataset d = datasets.get(i);
        d.checkOpen();
        if (!d.features.equals(first)) {
          throw new IllegalArgumentException("Dataset " + i + " has columns " + d.features + ", dataset 0 has "
              + first + ": they must match to concatenate");
        }
        Dataset plain = d.isPlain() ? d : d.flattenIndices();
        if (plain != d) {
          flattened.add(plain);
        }
        tables.add(plain.table);
        fps.add(d.fingerprint);
      }
      ArrowTable joined = ArrowTable.concat(first, tables);
      return over(joined, Fingerprint.of("concatenate", fps), datasets.get(0).cacheDir);
    } finally {
      flattened.forEach(Dataset::close);
    }
  }

  private boolean isPlain() {
    return indices == null && Arrays.equals(columnSources, identityColumns(table.features().size()))
        && features.names().equals(table.features().names());
  }

  // ---------------------------------------------------------------- Spark

  /**
   * A dataset from a Spark DataFrame: each partition is written by its task as one Arrow IPC file into a new
   * folder under {@code cacheDir}, which every executor must reach (a local folder on one machine, or a shared
   * file system); rows keep the DataFrame's order. The folder is deleted when the dataset is closed.
   */
  public static Dataset fromSpark(org.apache.spark.sql.Dataset<org.apache.spark.sql.Row> df, Path cacheDir) {
    Path folder = CacheDirectory.newTemporaryFolder(cacheDir);
    try {
      DatasetFolder.State state = io.sparkformers.datasets.internal.SparkArrow.write(df, folder,
          Fingerprint.random());
      return open(folder, state, cacheDir, folder);
    } catch (RuntimeException e) {
      ArrowTable.deleteRecursively(folder);
      throw e;
    }
  }

  /**
   * This dataset as a Spark DataFrame with the same columns and row order, one partition per Arrow file; the
   * executors read the files, so they must reach them. A dataset with an indices mapping is flattened first
   * (the flattened copy lives in the cache folder). The DataFrame reads the files when it is evaluated: keep
   * this dataset open while using it.
   */
  public org.apache.spark.sql.Dataset<org.apache.spark.sql.Row> toSpark(org.apache.spark.sql.SparkSession spark) {
    checkOpen();
    if (!isPlain()) {
      // Into the cache folder even for a temporary dataset: the DataFrame reads the files after this returns.
      try (Dataset flat = flatten(true)) {
        DatasetFolder.State state = DatasetFolder.read(flat.files().get(0).getParent());
        List<Path> paths = new ArrayList<>();
        state.files().forEach(f -> paths.add(flat.files().get(0).getParent().resolve(f)));
        return io.sparkformers.datasets.internal.SparkArrow.read(spark, paths, features);
      }
    }
    return io.sparkformers.datasets.internal.SparkArrow.read(spark, table.paths(), features);
  }

  // ---------------------------------------------------------------- life cycle

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("The dataset is closed");
    }
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      table.release();
    }
  }

  /** Java serialization writes {@link Handle} instead: the files and the view of them, never the mapping. */
  private Object writeReplace() throws ObjectStreamException {
    checkOpen();
    if (!table.isPersistent()) {
      throw new NotSerializableException("this dataset lives in a temporary folder deleted with it (an in-memory"
          + " dataset or a transform of one): saveToDisk(folder) it and open that with loadFromDisk to send it");
    }
    List<String> paths = new ArrayList<>();
    table.paths().forEach(p -> paths.add(p.toAbsolutePath().toString()));
    return new Handle(paths, table.features(), indices, columnSources, features, fingerprint,
        cacheDir == null ? null : cacheDir.toString());
  }

  /** What a serialized {@link Dataset} holds; read back, it maps the files again. */
  private record Handle(List<String> paths, Features tableFeatures, long[] indices, int[] columnSources,
      Features features, String fingerprint, String cacheDir) implements Serializable {
    private Object readResolve() {
      List<Path> files = new ArrayList<>();
      paths.forEach(p -> files.add(Path.of(p)));
      for (Path f : files) {
        if (!Files.isRegularFile(f)) {
          throw new IllegalStateException("a dataset sent here reads " + f + ", which this machine does not see:"
              + " put the dataset on storage every executor reaches (a shared file system)");
        }
      }
      ArrowTable table = ArrowTable.open(tableFeatures, files, null);
      return new Dataset(table, indices, columnSources, features, fingerprint,
          cacheDir == null ? null : Path.of(cacheDir));
    }
  }

  @Override
  public String toString() {
    return "Dataset{features: " + features + ", num_rows: " + (closed ? "closed" : numRows()) + "}";
  }
}
