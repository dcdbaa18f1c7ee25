package io.sparkformers.evaluate;

import io.sparkformers.evaluate.internal.SparkRows;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Encoder;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.expressions.Aggregator;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * A metric as a typed Spark {@link Aggregator} over rows: each partition adds its rows to the metric's
 * statistics, Spark merges the statistics, and the result is the metric's values as a struct (or one number).
 * Text metrics read rows (prediction string, references array&lt;string&gt;); classification reads
 * (prediction, reference) labels. Turn it into an untyped UDAF with
 * {@code functions.udaf(aggregator, aggregator.inputEncoder())}, or use {@link EvaluateFunctions}.
 *
 * <p>The struct carries two more fields: {@code rows} (rows seen) and {@code skipped} (rows left out under
 * {@link BadRowPolicy#SKIP}).
 *
 * @param <OUT> {@link Row} for the whole result, {@link Double} for one value
 */
public final class MetricAggregator<OUT> extends Aggregator<Row, MetricAggregator.Buffer, OUT> {
  private static final long serialVersionUID = 1L;

  private final Adapter adapter;
  private final BadRowPolicy policy;
  private final String field;
  private final StructType resultSchema;
  private final transient Encoder<OUT> outputEncoder;

  private MetricAggregator(Adapter adapter, BadRowPolicy policy, String field, Encoder<OUT> outputEncoder) {
    this.adapter = adapter;
    this.policy = policy;
    this.field = field;
    this.outputEncoder = outputEncoder;
    Map<String, Object> sample = new LinkedHashMap<>(adapter.sampleResult().asMap());
    sample.put("rows", 0L);
    sample.put("skipped", 0L);
    this.resultSchema = SparkRows.schemaOf(sample, MetricAggregator::nested);
  }

  /** A text metric's whole result as a struct; bad rows fail the job. */
  public static MetricAggregator<Row> of(TextMetric<?> metric) {
    return of(metric, BadRowPolicy.FAIL, "prediction", "references");
  }

  /** A text metric's whole result as a struct; column names are used in error messages only. */
  public static MetricAggregator<Row> of(TextMetric<?> metric, BadRowPolicy policy, String predictionColumn,
      String referencesColumn) {
    Adapter a = new TextAdapter(metric, predictionColumn, referencesColumn);
    return new MetricAggregator<>(a, policy, null, Encoders.row(a.resultSchemaPlaceholder()));
  }

  /**
   * Classification: the whole result (precision, recall, f1, accuracy; lists and labels for average none).
   *
   * @param integerLikeStringsAreIntegers read string labels that look like integers as integers (SQL functions,
   *     where the labels' type is not known); otherwise strings stay strings
   */
  public static MetricAggregator<Row> of(Classification metric, BadRowPolicy policy, String predictionColumn,
      String referenceColumn, boolean integerLikeStringsAreIntegers) {
    Adapter a = new LabelAdapter(metric, predictionColumn, referenceColumn, integerLikeStringsAreIntegers);
    return new MetricAggregator<>(a, policy, null, Encoders.row(a.resultSchemaPlaceholder()));
  }

  /** One number of a classification result: "precision", "recall", "f1" or "accuracy" (average not none). */
  public static MetricAggregator<Double> value(Classification metric, String field, BadRowPolicy policy,
      String predictionColumn, String referenceColumn, boolean integerLikeStringsAreIntegers) {
    if (!List.of("precision", "recall", "f1", "accuracy").contains(field)) {
      throw new IllegalArgumentException("field '" + field + "': expected precision, recall, f1 or accuracy");
    }
    if (metric.options().average().equals("none") && !field.equals("accuracy")) {
      throw new IllegalArgumentException("average none gives a list per label: use the struct aggregator");
    }
    Adapter a = new LabelAdapter(metric, predictionColumn, referenceColumn, integerLikeStringsAreIntegers);
    return new MetricAggregator<>(a, policy, field, Encoders.DOUBLE());
  }

  /** The rows this aggregator reads, for {@code functions.udaf(this, inputEncoder())}. */
  public Encoder<Row> inputEncoder() {
    return Encoders.row(adapter.inputSchema());
  }

  /** The struct type of the whole result. */
  public StructType resultSchema() {
    return resultSchema;
  }

  @Override
  public Buffer zero() {
    return new Buffer(adapter.newState());
  }

  @Override
  public Buffer reduce(Buffer b, Row row) {
    b.rows++;
    try {
      adapter.add(b.state, row);
    } catch (InvalidInputException e) {
      String message = adapter.describe(e, row);
      if (policy == BadRowPolicy.FAIL) {
        throw new InvalidInputException(message);
      }
      b.skipped++;
    }
    return b;
  }

  @Override
  public Buffer merge(Buffer a, Buffer b) {
    a.state = adapter.merge(a.state, b.state);
    a.rows += b.rows;
    a.skipped += b.skipped;
    return a;
  }

  @Override
  @SuppressWarnings("unchecked")
  public OUT finish(Buffer b) {
    MetricResult r = adapter.compute(b.state);
    if (field != null) {
      return (OUT) (Double) r.getDouble(field);
    }
    Map<String, Object> values = new LinkedHashMap<>(r.asMap());
    values.put("rows", b.rows);
    values.put("skipped", b.skipped);
    return (OUT) SparkRows.toRow(values, resultSchema, MetricAggregator::nested);
  }

  @Override
  public Encoder<Buffer> bufferEncoder() {
    return Encoders.javaSerialization(Buffer.class);
  }

  @Override
  @SuppressWarnings("unchecked")
  public Encoder<OUT> outputEncoder() {
    if (outputEncoder != null) {
      return outputEncoder;
    }
    return field != null ? (Encoder<OUT>) Encoders.DOUBLE() : (Encoder<OUT>) Encoders.row(resultSchema);
  }

  private static Map<String, Object> nested(Object v) {
    return v instanceof MetricResult ? ((MetricResult) v).asMap() : null;
  }

  /** A partition's statistics and row counts. */
  public static final class Buffer implements Serializable {
    private static final long serialVersionUID = 1L;
    Object state;
    long rows;
    long skipped;

    Buffer(Object state) {
      this.state = state;
    }
  }

  private abstract static class Adapter implements Serializable {
    private static final long serialVersionUID = 1L;

    abstract StructType inputSchema();

    abstract Object newState();

    abstract void add(Object state, Row row);

    abstract Object merge(Object a, Object b);

    abstract MetricResult compute(Object state);

    abstract MetricResult sampleResult();

    abstract String describe(InvalidInputException e, Row row);

    StructType resultSchemaPlaceholder() {
      Map<String, Object> sample = new LinkedHashMap<>(sampleResult().asMap());
      sample.put("rows", 0L);
      sample.put("skipped", 0L);
      return SparkRows.schemaOf(sample, MetricAggregator::nested);
    }
  }

  private static String sample(Object v) {
    if (v == null) {
      return "null";
    }
    String s = v instanceof scala.collection.Seq
        ? scala.collection.JavaConverters.seqAsJavaListConverter((scala.collection.Seq<?>) v).asJava().toString() : v.toString();
    return s.length() > 120 ? s.substring(0, 117) + "..." : s;
  }

  @SuppressWarnings({"rawtypes", "unchecked"})
  private static final class TextAdapter extends Adapter {
    private static final long serialVersionUID = 1L;
    private final TextMetric metric;
    private final String predictionColumn;
    private final String referencesColumn;

    TextAdapter(TextMetric<?> metric, String predictionColumn, String referencesColumn) {
      this.metric = metric;
      this.predictionColumn = predictionColumn;
      this.referencesColumn = referencesColumn;
    }

    @Override
    StructType inputSchema() {
      return DataTypes.createStructType(List.of(
          DataTypes.createStructField("prediction", DataTypes.StringType, true),
          DataTypes.createStructField("references", DataTypes.createArrayType(DataTypes.StringType, true), true)));
    }

    @Override
    Object newState() {
      return metric.newState();
    }

    @Override
    void add(Object state, Row row) {
      Object p = row.get(0);
      Object r = row.get(1);
      if (p != null && !(p instanceof String)) {
        throw new InvalidInputException("prediction has type " + p.getClass().getSimpleName() + "; expected a string");
      }
      List<String> refs = null;
      if (r instanceof scala.collection.Seq) {
        refs = new ArrayList<>(scala.collection.JavaConverters.seqAsJavaListConverter((scala.collection.Seq<Object>) r).asJava().size());
        for (Object x : scala.collection.JavaConverters.seqAsJavaListConverter((scala.collection.Seq<Object>) r).asJava()) {
          if (x != null && !(x instanceof String)) {
            throw new InvalidInputException("references holds a " + x.getClass().getSimpleName() + "; expected strings");
          }
          refs.add((String) x);
        }
      } else if (r instanceof List) {
        refs = (List<String>) r;
      } else if (r != null) {
        throw new InvalidInputException("references has type " + r.getClass().getSimpleName()
            + "; expected an array of strings");
      }
      metric.add((Serializable) state, (String) p, refs);
    }

    @Override
    Object merge(Object a, Object b) {
      return metric.merge((Serializable) a, (Serializable) b);
    }

    @Override
    MetricResult compute(Object state) {
      return metric.compute((Serializable) state);
    }

    @Override
    MetricResult sampleResult() {
      Serializable s = metric.newState();
      metric.add(s, "a b c d .", List.of("a b c d ."));
      return metric.compute(s);
    }

    @Override
    String describe(InvalidInputException e, Row row) {
      String column = e.getMessage().startsWith("prediction") ? predictionColumn : referencesColumn;
      return metric.name() + ": bad value in column '" + column + "': " + e.getMessage() + "; the row: "
          + predictionColumn + "=" + sample(row.get(0)) + ", " + referencesColumn + "=" + sample(row.get(1));
    }
  }

  private static final class LabelAdapter extends Adapter {
    private static final long serialVersionUID = 1L;
    private final Classification metric;
    private final String predictionColumn;
    private final String referenceColumn;
    private final boolean integerLikeStringsAreIntegers;

    LabelAdapter(Classification metric, String predictionColumn, String referenceColumn, boolean integerLike) {
      this.metric = metric;
      this.predictionColumn = predictionColumn;
      this.referenceColumn = referenceColumn;
      this.integerLikeStringsAreIntegers = integerLike;
    }

    @Override
    StructType inputSchema() {
      List<org.apache.spark.sql.types.StructField> fields = new ArrayList<>(List.of(
          DataTypes.createStructField("prediction", DataTypes.StringType, true),
          DataTypes.createStructField("reference", DataTypes.StringType, true)));
      if (!integerLikeStringsAreIntegers) {
        // The SQL type names of the two label columns (typeof), so that numbers stay numbers after the cast.
        fields.add(DataTypes.createStructField("prediction_type", DataTypes.StringType, true));
        fields.add(DataTypes.createStructField("reference_type", DataTypes.StringType, true));
      }
      return DataTypes.createStructType(fields);
    }

    @Override
    Object newState() {
      return metric.newState();
    }

    private Object label(Object x, Row row, int typeIndex) {
      if (x instanceof String && row.length() > typeIndex && row.get(typeIndex) != null) {
        String type = row.getString(typeIndex);
        if (type.equals("boolean")) {
          return Boolean.parseBoolean((String) x);
        }
        if (!type.equals("string") && !type.startsWith("char") && !type.startsWith("varchar")) {
          try {
            return new java.math.BigDecimal((String) x);
          } catch (NumberFormatException e) {
            return x;
          }
        }
        return x;
      }
      if (x instanceof String && integerLikeStringsAreIntegers) {
        String s = (String) x;
        if (s.matches("-?(0|[1-9][0-9]{0,17})")) {
          return Long.parseLong(s);
        }
        if (s.matches("-?[0-9]+\\.0+")) {
          return Long.parseLong(s.substring(0, s.indexOf('.')));
        }
      }
      return x;
    }

    @Override
    void add(Object state, Row row) {
      metric.add((Classification.Stats) state, label(row.get(0), row, 2), label(row.get(1), row, 3));
    }

    @Override
    Object merge(Object a, Object b) {
      return metric.merge((Classification.Stats) a, (Classification.Stats) b);
    }

    @Override
    MetricResult compute(Object state) {
      return metric.compute((Classification.Stats) state);
    }

    @Override
    MetricResult sampleResult() {
      Classification.Stats s = metric.newState();
      Object pos = metric.options().posLabel;
      metric.add(s, pos, pos);
      return metric.compute(s);
    }

    @Override
    String describe(InvalidInputException e, Row row) {
      String column = e.getMessage().startsWith("reference") ? referenceColumn : predictionColumn;
      return "classification: bad value in column '" + column + "': " + e.getMessage() + "; the row: "
          + predictionColumn + "=" + sample(row.get(0)) + ", " + referenceColumn + "=" + sample(row.get(1));
    }
  }
}
