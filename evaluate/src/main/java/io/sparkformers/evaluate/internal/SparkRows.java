package io.sparkformers.evaluate.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/** Converts metric results (maps of Double, Long, String, lists and nested results) to Spark structs. */
public final class SparkRows {
  private SparkRows() {}

  /** The struct type of a result, inferred from the Java types of a sample result's values. */
  public static StructType schemaOf(Map<String, Object> sample, java.util.function.Function<Object, Map<String, Object>> nested) {
    List<StructField> fields = new ArrayList<>();
    for (Map.Entry<String, Object> e : sample.entrySet()) {
      fields.add(DataTypes.createStructField(e.getKey(), typeOf(e.getKey(), e.getValue(), nested), true));
    }
    return DataTypes.createStructType(fields);
  }

  private static DataType typeOf(String key, Object v, java.util.function.Function<Object, Map<String, Object>> nested) {
    if (v instanceof Double || v instanceof Float) {
      return DataTypes.DoubleType;
    }
    if (v instanceof Number) {
      return DataTypes.LongType;
    }
    if (v instanceof String) {
      return DataTypes.StringType;
    }
    if (v instanceof List) {
      if (key.equals("labels")) {
        return DataTypes.createArrayType(DataTypes.StringType); // labels may be integers or strings
      }
      List<?> l = (List<?>) v;
      DataType element = l.isEmpty() ? DataTypes.DoubleType : typeOf(key, l.get(0), nested);
      return DataTypes.createArrayType(element);
    }
    Map<String, Object> m = nested.apply(v);
    if (m != null) {
      return schemaOf(m, nested);
    }
    throw new IllegalArgumentException("no Spark type for " + key + " = " + v);
  }

  /** A row of the given struct type from a result's values. */
  public static Row toRow(Map<String, Object> values, StructType schema,
      java.util.function.Function<Object, Map<String, Object>> nested) {
    Object[] out = new Object[schema.fields().length];
    for (int i = 0; i < out.length; i++) {
      StructField f = schema.fields()[i];
      out[i] = convert(values.get(f.name()), f.dataType(), nested);
    }
    return RowFactory.create(out);
  }

  private static Object convert(Object v, DataType type, java.util.function.Function<Object, Map<String, Object>> nested) {
    if (v == null) {
      return null;
    }
    if (type == DataTypes.DoubleType) {
      return ((Number) v).doubleValue();
    }
    if (type == DataTypes.LongType) {
      return ((Number) v).longValue();
    }
    if (type == DataTypes.StringType) {
      return v.toString();
    }
    if (type instanceof ArrayType) {
      DataType el = ((ArrayType) type).elementType();
      List<?> l = (List<?>) v;
      Object[] arr = new Object[l.size()];
      for (int i = 0; i < arr.length; i++) {
        arr[i] = convert(l.get(i), el, nested);
      }
      // JavaConverters: the converter API both Scala 2.12 (Spark 3.5) and 2.13 (Spark 4.0) have.
      return scala.collection.JavaConverters.asScalaBufferConverter(java.util.Arrays.asList(arr)).asScala().toSeq();
    }
    if (type instanceof StructType) {
      return toRow(nested.apply(v), (StructType) type, nested);
    }
    throw new IllegalArgumentException("unsupported type " + type);
  }
}
