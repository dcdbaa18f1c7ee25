package io.sparkformers.datasets.internal;

import io.sparkformers.datasets.ColumnType;
import io.sparkformers.datasets.Features;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * Spark DataFrames to and from Arrow dataset folders with Spark's public API only: each task writes its
 * partition as one Arrow IPC file (rows in order, files in partition order), and each task reads one Arrow
 * file back into rows. The folder must be reachable by the executors (local disk on one machine, or a
 * shared file system).
 */
public final class SparkArrow {
  private SparkArrow() {}

  public static ColumnType columnType(StructField field) {
    DataType t = field.dataType();
    if (t instanceof ArrayType) {
      DataType e = ((ArrayType) t).elementType();
      if (e.equals(DataTypes.IntegerType)) {
        return ColumnType.INT32_LIST;
      }
      if (e.equals(DataTypes.LongType)) {
        return ColumnType.INT64_LIST;
      }
      if (e.equals(DataTypes.FloatType)) {
        return ColumnType.FLOAT32_LIST;
      }
      if (e.equals(DataTypes.DoubleType)) {
        return ColumnType.FLOAT64_LIST;
      }
      if (e.equals(DataTypes.StringType)) {
        return ColumnType.STRING_LIST;
      }
    } else if (t.equals(DataTypes.IntegerType) || t.equals(DataTypes.ShortType) || t.equals(DataTypes.ByteType)) {
      return ColumnType.INT32;
    } else if (t.equals(DataTypes.LongType)) {
      return ColumnType.INT64;
    } else if (t.equals(DataTypes.FloatType)) {
      return ColumnType.FLOAT32;
    } else if (t.equals(DataTypes.DoubleType)) {
      return ColumnType.FLOAT64;
    } else if (t.equals(DataTypes.BooleanType)) {
      return ColumnType.BOOL;
    } else if (t.equals(DataTypes.StringType)) {
      return ColumnType.STRING;
    }
    throw new IllegalArgumentException("DataFrame column '" + field.name() + "' has Spark type " + t.simpleString()
        + "; supported: int, bigint, float, double, boolean, string and arrays of int, bigint, float, double,"
        + " string");
  }

  public static DataType sparkType(ColumnType t) {
    switch (t) {
      case INT32: return DataTypes.IntegerType;
      case INT64: return DataTypes.LongType;
      case FLOAT32: return DataTypes.FloatType;
      case FLOAT64: return DataTypes.DoubleType;
      case BOOL: return DataTypes.BooleanType;
      case STRING: return DataTypes.StringType;
      default: return DataTypes.createArrayType(sparkType(t.elementType()), false);
    }
  }

  /**
   * A parser's value as a Spark Row holds it for a column of {@code type}: the conversions an Arrow column
   * accepts (an Integer into an INT64 column, a List of numbers into a list column) and the same error when
   * a value does not fit; lists become Scala sequences, as Spark gives array columns back.
   */
  public static Object rowValue(String column, ColumnType type, Object value) {
    if (value == null) {
      return null;
    }
    try {
      if (!type.isList()) {
        return scalar(type, value);
      }
      ColumnType element = type.elementType();
      if (!(value instanceof java.util.List<?>) && !value.getClass().isArray()) {
        throw new ClassCastException(value.getClass().getName());
      }
      java.util.List<?> items = value instanceof java.util.List<?> l ? l : new java.util.AbstractList<Object>() {
        @Override
        public Object get(int index) {
          return java.lang.reflect.Array.get(value, index);
        }

        @Override
        public int size() {
          return java.lang.reflect.Array.getLength(value);
        }
      };
      int n = items.size();
      Object array = switch (element) {
        case INT32 -> new int[n];
        case INT64 -> new long[n];
        case FLOAT32 -> new float[n];
        case FLOAT64 -> new double[n];
        default -> new String[n];
      };
      for (int k = 0; k < n; k++) {
        Object item = items.get(k);
        if (item == null) {
          throw new IllegalArgumentException("Column '" + column + "' is " + type
              + " and cannot hold a null element (element " + k + ")");
        }
        java.lang.reflect.Array.set(array, k, scalar(element, item));
      }
      // Predef's wrappers are a scala.collection.Seq under Scala 2.12 (WrappedArray) and 2.13 (ArraySeq) alike.
      scala.Predef$ p = scala.Predef$.MODULE$;
      return switch (element) {
        case INT32 -> p.wrapIntArray((int[]) array);
        case INT64 -> p.wrapLongArray((long[]) array);
        case FLOAT32 -> p.wrapFloatArray((float[]) array);
        case FLOAT64 -> p.wrapDoubleArray((double[]) array);
        default -> p.wrapRefArray((Object[]) array);
      };
    } catch (ClassCastException | ArithmeticException e) {
      throw new IllegalArgumentException("Column '" + column + "' is " + type + " but got "
          + ArrowValues.describe(value), e);
    }
  }

  private static Object scalar(ColumnType type, Object value) {
    switch (type) {
      case INT32: return ArrowValues.toInt(value);
      case INT64: return ArrowValues.toLong(value);
      case FLOAT32: return ((Number) value).floatValue();
      case FLOAT64: return ((Number) value).doubleValue();
      case BOOL: return (Boolean) value;
      case STRING: return (String) value;
      default: throw new IllegalStateException(type.toString());
    }
  }

  public static Features features(StructType schema) {
    Features.Builder b = Features.builder();
    for (StructField f : schema.fields()) {
      b.add(f.name(), columnType(f));
    }
    return b.build();
  }

  public static StructType schema(Features features) {
    List<StructField> fields = new ArrayList<>();
    features.asMap().forEach((n, t) -> fields.add(DataTypes.createStructField(n, sparkType(t), true)));
    return DataTypes.createStructType(fields);
  }

  /** Writes every partition of {@code df} into {@code folder}; returns the state (files in partition order). */
  public static DatasetFolder.State write(org.apache.spark.sql.Dataset<Row> df, Path folder, String fingerprint) {
    Features features = features(df.schema());
    String target = folder.toAbsolutePath().toString();
    JavaRDD<Row> rows = df.javaRDD();
    int parts = rows.getNumPartitions();
    List<Long> counts = rows.mapPartitionsWithIndex((Integer index, Iterator<Row> it) -> {
      Path file = Paths.get(target).resolve(DatasetFolder.fileName(index, parts));
      long n = 0;
      ColumnType[] types = features.asMap().values().toArray(new ColumnType[0]);
      try (ArrowShardWriter w = new ArrowShardWriter(file, features, ArrowShardWriter.DEFAULT_BATCH_ROWS)) {
        while (it.hasNext()) {
          Row r = it.next();
          Object[] values = new Object[types.length];
          for (int c = 0; c < types.length; c++) {
            values[c] = r.isNullAt(c) ? null : types[c].isList() ? r.getList(c) : r.get(c);
          }
          w.write(values);
          n++;
        }
        w.commit();
      }
      return List.of(n).iterator();
    }, true).collect();
    long total = 0;
    List<String> files = new ArrayList<>();
    for (int i = 0; i < parts; i++) {
      total += counts.get(i);
      files.add(DatasetFolder.fileName(i, parts));
    }
    DatasetFolder.State state = new DatasetFolder.State(fingerprint, features, total, files);
    DatasetFolder.write(folder, state);
    return state;
  }

  /** A DataFrame over Arrow files, one partition per file, rows in order. */
  public static org.apache.spark.sql.Dataset<Row> read(SparkSession spark, List<Path> files, Features features) {
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    List<String> paths = new ArrayList<>();
    files.forEach(p -> paths.add(p.toAbsolutePath().toString()));
    StructType schema = schema(features);
    JavaRDD<Row> rows = jsc.parallelize(paths, Math.max(1, paths.size()))
        .flatMap(path -> new FileRows(Paths.get(path), features.asMap().values().toArray(new ColumnType[0])));
    return spark.createDataFrame(rows, schema);
  }

  /**
   * One Arrow file's rows, made one at a time from the memory-mapped batches: a task holds one row on its heap,
   * not the file's. The file is released at its end, or when the task completes first.
   */
  private static final class FileRows implements Iterator<Row> {
    private final ColumnType[] types;
    private final BufferAllocator allocator;
    private final MappedArrowFile file;
    private int batch;
    private int row;
    private boolean closed;

    FileRows(java.nio.file.Path path, ColumnType[] types) {
      this.types = types;
      this.allocator = new RootAllocator();
      try {
        this.file = MappedArrowFile.open(path, allocator);
      } catch (RuntimeException e) {
        allocator.close();
        throw e;
      }
      org.apache.spark.TaskContext task = org.apache.spark.TaskContext.get();
      if (task != null) {
        task.addTaskCompletionListener((org.apache.spark.util.TaskCompletionListener) t -> close());
      }
    }

    @Override
    public boolean hasNext() {
      if (closed) {
        return false;
      }
      List<VectorSchemaRoot> batches = file.batches();
      while (batch < batches.size() && row >= batches.get(batch).getRowCount()) {
        batch++;
        row = 0;
      }
      if (batch >= batches.size()) {
        close();
        return false;
      }
      return true;
    }

    @Override
    public Row next() {
      if (!hasNext()) {
        throw new java.util.NoSuchElementException();
      }
      List<FieldVector> vectors = file.batches().get(batch).getFieldVectors();
      Object[] values = new Object[types.length];
      for (int c = 0; c < types.length; c++) {
        values[c] = ArrowValues.get(vectors.get(c), types[c], row);
      }
      row++;
      return RowFactory.create(values);
    }

    private void close() {
      if (!closed) {
        closed = true;
        try {
          file.close();
        } finally {
          allocator.close();
        }
      }
    }
  }
}
