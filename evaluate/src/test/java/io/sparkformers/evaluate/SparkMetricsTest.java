package io.sparkformers.evaluate;

import static io.sparkformers.evaluate.EvaluateFunctions.bleu;
import static io.sparkformers.evaluate.EvaluateFunctions.chrf;
import static io.sparkformers.evaluate.EvaluateFunctions.rouge;
import static org.apache.spark.sql.functions.col;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.sparkformers.evaluate.ReferenceData.LabelExample;
import io.sparkformers.evaluate.ReferenceData.TextExample;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.ml.Pipeline;
import org.apache.spark.ml.PipelineStage;
import org.apache.spark.ml.classification.LogisticRegression;
import org.apache.spark.ml.feature.VectorAssembler;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.tuning.CrossValidator;
import org.apache.spark.ml.tuning.CrossValidatorModel;
import org.apache.spark.ml.tuning.ParamGridBuilder;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The metrics as Spark aggregations on local[2]: DataFrame and SQL functions, grouping, bad rows, the Evaluator. */
class SparkMetricsTest {
  private static SparkSession spark;

  @BeforeAll
  static void start() {
    spark = SparkSession.builder()
        .master("local[2]")
        .appName("evaluate-spark-metrics-test")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "3")
        .getOrCreate();
    EvaluateFunctions.register(spark);
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  static Dataset<Row> textFrame(String... cases) {
    StructType schema = DataTypes.createStructType(List.of(
        DataTypes.createStructField("corpus", DataTypes.StringType, false),
        DataTypes.createStructField("prediction", DataTypes.StringType, true),
        DataTypes.createStructField("references", DataTypes.createArrayType(DataTypes.StringType), true)));
    List<Row> rows = new ArrayList<>();
    for (String c : cases) {
      for (TextExample e : ReferenceData.text(c)) {
        rows.add(RowFactory.create(c, e.prediction(), e.references().toArray(new String[0])));
      }
    }
    return spark.createDataFrame(rows, schema).repartition(4);
  }

  @Test
  void severalMetricsInOnePassEqualTheReferenceTools() {
    Dataset<Row> df = textFrame("licenses_mixed");
    Row r = df.agg(bleu(col("prediction"), col("references")), chrf(col("prediction"), col("references")),
        rouge(col("prediction"), col("references"), true)).head();
    JsonNode exp = ReferenceData.expected("text/licenses_mixed");
    Row b = r.getStruct(0);
    JsonNode eb = exp.get("sacrebleu").get("corpus_bleu");
    assertEquals(ReferenceData.num(eb.get("score")), b.getDouble(b.fieldIndex("score")), 1e-9);
    assertEquals(eb.get("sys_len").asLong(), b.getLong(b.fieldIndex("sys_len")));
    assertEquals(eb.get("ref_len").asLong(), b.getLong(b.fieldIndex("ref_len")));
    assertEquals(eb.get("counts").get(3).asLong(), (long) b.<Long>getList(b.fieldIndex("counts")).get(3));
    assertEquals(eb.get("signature").asText(), b.getString(b.fieldIndex("signature")));
    assertEquals(400L, b.getLong(b.fieldIndex("rows")));
    assertEquals(0L, b.getLong(b.fieldIndex("skipped")));
    assertEquals(ReferenceData.num(exp.get("sacrebleu").get("corpus_chrf").get("score")),
        r.getStruct(1).getDouble(0), 1e-9);
    Row rougeL = r.getStruct(2).getStruct(r.getStruct(2).fieldIndex("rougeLsum"));
    assertEquals(ReferenceData.num(exp.get("rouge_score").get("use_stemmer=True").get("mean").get("rougeLsum").get("fmeasure")),
        rougeL.getDouble(rougeL.fieldIndex("fmeasure")), 1e-9);
  }

  @Test
  void groupedEvaluationGivesEachGroupItsOwnScore() {
    List<Row> rows = textFrame("licenses_mixed", "multi_ref_variable", "identical")
        .groupBy("corpus").agg(bleu(col("prediction"), col("references"))).orderBy("corpus").collectAsList();
    assertEquals(3, rows.size());
    for (Row r : rows) {
      JsonNode eb = ReferenceData.expected("text/" + r.getString(0)).get("sacrebleu").get("corpus_bleu");
      assertEquals(ReferenceData.num(eb.get("score")), r.getStruct(1).getDouble(0), 1e-9, r.getString(0));
      assertEquals(eb.get("signature").asText(), r.getStruct(1).getString(r.getStruct(1).fieldIndex("signature")));
    }
  }

  @Test
  void sqlFunctionsRegisteredInOneCall() {
    textFrame("multiline_summaries").createOrReplaceTempView("summaries");
    Row r = spark.sql("SELECT bleu(prediction, references).score, chrf_pp(prediction, references).score, "
        + "rouge(prediction, references).rougeL.fmeasure, exact_match(prediction, references).exact_match FROM summaries").head();
    JsonNode exp = ReferenceData.expected("text/multiline_summaries");
    assertEquals(ReferenceData.num(exp.get("sacrebleu").get("corpus_bleu").get("score")), r.getDouble(0), 1e-9);
    assertEquals(ReferenceData.num(exp.get("sacrebleu").get("corpus_chrf++").get("score")), r.getDouble(1), 1e-9);
    assertEquals(ReferenceData.num(exp.get("rouge_score").get("use_stemmer=False").get("mean").get("rougeL").get("fmeasure")),
        r.getDouble(2), 1e-9);
    assertEquals(ReferenceData.num(exp.get("hf_evaluate").get("exact_match").get("result").get("exact_match")),
        r.getDouble(3), 1e-12);
  }

  @Test
  void oneCallMetricsEqualTheSparkAggregations() {
    List<TextExample> data = ReferenceData.text("licenses_mixed");
    List<String> preds = MetricsTest.predictions(data);
    List<List<String>> refs = MetricsTest.references(data);
    Dataset<Row> df = textFrame("licenses_mixed");
    Row r = df.agg(bleu(col("prediction"), col("references")), chrf(col("prediction"), col("references")),
        rouge(col("prediction"), col("references"), true), EvaluateFunctions.exactMatch(col("prediction"),
            col("references")), EvaluateFunctions.text(new HuggingFaceBleu(), col("prediction"), col("references")))
        .head();
    assertSameValues(Metrics.sacrebleu(preds, refs).asMap(), r.getStruct(0));
    assertSameValues(Metrics.chrf(preds, refs).asMap(), r.getStruct(1));
    assertSameValues(Metrics.rouge(preds, refs, new Rouge(RougeReferenceTest.TYPES, true, false)).asMap(),
        r.getStruct(2));
    assertSameValues(Metrics.exactMatch(preds, refs).asMap(), r.getStruct(3));
    assertSameValues(Metrics.bleu(preds, refs).asMap(), r.getStruct(4));

    List<LabelExample> labels = ReferenceData.labels("multiclass_string");
    Classification.Options macro = Classification.Options.builder().average("macro").build();
    Row c = labelFrame("multiclass_string", false).select(EvaluateFunctions.classification(col("prediction"),
        col("reference"), macro)).head();
    assertSameValues(Metrics.classification(labels.stream().map(LabelExample::prediction).toList(),
        labels.stream().map(LabelExample::reference).toList(), macro).asMap(), c.getStruct(0));
  }

  /** Every value of a one-call result equals the struct field of that name; sums may differ by rounding only. */
  @SuppressWarnings("unchecked")
  static void assertSameValues(java.util.Map<String, Object> expected, Row row) {
    for (java.util.Map.Entry<String, Object> e : expected.entrySet()) {
      Object got = row.get(row.fieldIndex(e.getKey()));
      Object want = e.getValue();
      if (want instanceof java.util.Map) {
        assertSameValues((java.util.Map<String, Object>) want, (Row) got);
      } else if (want instanceof Double d) {
        assertEquals(d, (Double) got, 1e-12, e.getKey());
      } else if (want instanceof List) {
        List<Object> g = scala.collection.JavaConverters.seqAsJavaListConverter((scala.collection.Seq<Object>) got).asJava();
        assertEquals(want, g, e.getKey());
      } else {
        assertEquals(want, got, e.getKey());
      }
    }
  }

  static Dataset<Row> labelFrame(String kase, boolean integers) {
    StructType schema = DataTypes.createStructType(List.of(
        DataTypes.createStructField("prediction", integers ? DataTypes.IntegerType : DataTypes.StringType, true),
        DataTypes.createStructField("reference", integers ? DataTypes.IntegerType : DataTypes.StringType, true)));
    List<Row> rows = new ArrayList<>();
    for (LabelExample e : ReferenceData.labels(kase)) {
      rows.add(integers
          ? RowFactory.create(((Long) e.prediction()).intValue(), ((Long) e.reference()).intValue())
          : RowFactory.create(e.prediction(), e.reference()));
    }
    return spark.createDataFrame(rows, schema).repartition(3);
  }

  @Test
  void classificationAsDataFrameAndSqlFunctions() {
    JsonNode scores = ReferenceData.expected("f1/binary_int").get("scores");
    Dataset<Row> ints = labelFrame("binary_int", true);
    Classification.Options pos0 = Classification.Options.builder().posLabel(0).build();
    Row r = ints.agg(EvaluateFunctions.f1(col("prediction"), col("reference"), pos0),
        EvaluateFunctions.accuracy(col("prediction"), col("reference"))).head();
    assertEquals(ReferenceData.num(scores.get("average=binary,zero_division=warn,pos_label=0").get("f1_score").get("value")),
        r.getDouble(0), 1e-12);
    assertEquals(ReferenceData.num(ReferenceData.expected("f1/binary_int").get("accuracy").get("value")), r.getDouble(1), 1e-12);

    JsonNode multi = ReferenceData.expected("f1/multiclass_string").get("scores");
    labelFrame("multiclass_string", false).createOrReplaceTempView("labels");
    Row s = spark.sql("SELECT f1_macro(prediction, reference), f1_weighted(prediction, reference),"
        + " accuracy(prediction, reference) FROM labels").head();
    assertEquals(ReferenceData.num(multi.get("average=macro,zero_division=warn").get("f1_score").get("value")), s.getDouble(0), 1e-12);
    assertEquals(ReferenceData.num(multi.get("average=weighted,zero_division=warn").get("f1_score").get("value")), s.getDouble(1), 1e-12);
    // accuracy_score over six labels (the binary average's refusal is f1's, not accuracy's).
    assertEquals(ReferenceData.num(ReferenceData.expected("f1/multiclass_string").get("accuracy").get("value")),
        s.getDouble(2), 1e-12);
    assertEquals(s.getDouble(2), labelFrame("multiclass_string", false)
        .agg(EvaluateFunctions.accuracy(col("prediction"), col("reference"))).head().getDouble(0), 1e-12);
    // sklearn's error, not a number: binary average over six labels.
    Exception e = assertThrows(Exception.class, () -> spark.sql("SELECT f1(prediction, reference) FROM labels").head());
    assertTrue(rootMessage(e).contains("Target is multiclass but average='binary'"), rootMessage(e));

    Row none = labelFrame("multiclass_string", false).select(EvaluateFunctions.classification(col("prediction"),
        col("reference"), Classification.Options.builder().average("none").build())).head().getStruct(0);
    assertEquals(List.of("capitalized", "long", "medium", "number", "punct", "short"), none.getList(none.fieldIndex("labels")));
    assertEquals(ReferenceData.num(multi.get("average=None,zero_division=warn").get("recall_score").get("value").get(3)),
        (double) none.<Double>getList(none.fieldIndex("recall")).get(3), 1e-12);
  }

  static String rootMessage(Throwable t) {
    StringBuilder b = new StringBuilder();
    for (Throwable x = t; x != null; x = x.getCause()) {
      b.append(x.getMessage()).append(" | ");
    }
    return b.toString();
  }

  @Test
  void badRowsFailNamingTheColumnOrAreSkippedAndCounted() {
    StructType schema = DataTypes.createStructType(List.of(
        DataTypes.createStructField("hyp", DataTypes.StringType, true),
        DataTypes.createStructField("refs", DataTypes.createArrayType(DataTypes.StringType), true)));
    List<Row> rows = List.of(
        RowFactory.create("the cat sat on the mat", new String[] {"the cat sat on the mat"}),
        RowFactory.create("a dog", new String[] {}),
        RowFactory.create(null, new String[] {"x"}));
    Dataset<Row> df = spark.createDataFrame(rows, schema);
    Exception e = assertThrows(Exception.class, () -> df.agg(bleu(col("hyp"), col("refs"))).head());
    String msg = rootMessage(e);
    assertTrue(msg.contains("column 'refs'") || msg.contains("column 'hyp'"), msg);
    assertTrue(msg.contains("no references for this prediction") || msg.contains("prediction is null"), msg);

    Row r = df.agg(EvaluateFunctions.text(new Bleu(), BadRowPolicy.SKIP, col("hyp"), col("refs"))).head().getStruct(0);
    assertEquals(3L, r.getLong(r.fieldIndex("rows")));
    assertEquals(2L, r.getLong(r.fieldIndex("skipped")));
    assertEquals(6L, r.getLong(r.fieldIndex("sys_len")));
  }

  @Test
  void evaluatorPlugsIntoCrossValidator() {
    // Iris-like two-feature data, real Spark ML pipeline; the evaluator's F1 equals our local F1 on its predictions.
    StructType schema = DataTypes.createStructType(List.of(
        DataTypes.createStructField("x1", DataTypes.DoubleType, false),
        DataTypes.createStructField("x2", DataTypes.DoubleType, false),
        DataTypes.createStructField("label", DataTypes.DoubleType, false)));
    List<Row> rows = new ArrayList<>();
    java.util.Random random = new java.util.Random(3);
    for (int i = 0; i < 120; i++) {
      double label = i % 2;
      rows.add(RowFactory.create(label + random.nextGaussian(), -label + random.nextGaussian(), label));
    }
    Dataset<Row> data = spark.createDataFrame(rows, schema);
    VectorAssembler assembler = new VectorAssembler().setInputCols(new String[] {"x1", "x2"}).setOutputCol("features");
    LogisticRegression lr = new LogisticRegression().setMaxIter(5);
    Pipeline pipeline = new Pipeline().setStages(new PipelineStage[] {assembler, lr});
    ParamMap[] grid = new ParamGridBuilder().addGrid(lr.regParam(), new double[] {0.0, 10.0}).build();
    MetricEvaluator evaluator = new MetricEvaluator().setMetricName("f1");
    CrossValidatorModel cv = new CrossValidator().setEstimator(pipeline).setEvaluator(evaluator)
        .setEstimatorParamMaps(grid).setNumFolds(2).setSeed(1).fit(data);
    assertEquals(2, cv.avgMetrics().length);
    Dataset<Row> predictions = cv.transform(data);
    double f1 = evaluator.evaluate(predictions);
    Classification c = new Classification();
    Classification.Stats s = c.newState();
    for (Row r : predictions.select("prediction", "label").collectAsList()) {
      c.add(s, r.getDouble(0), r.getDouble(1));
    }
    assertEquals(c.compute(s).getDouble("f1"), f1, 1e-12);
    assertTrue(f1 > 0.5, "a separable problem scores well: " + f1);
  }
}
