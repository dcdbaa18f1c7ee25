package io.sparkformers.evaluate;

import java.util.List;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.expressions.UserDefinedFunction;
import org.apache.spark.sql.functions;

/**
 * Metrics as DataFrame functions and SQL functions. Each is an aggregate: use several in one {@code agg(...)}
 * for one pass over the data, and with {@code groupBy(...)} for per-group scores:
 *
 * <pre>
 *   df.groupBy("language").agg(bleu(col("prediction"), col("references")), chrf(col("prediction"), col("references")))
 *   EvaluateFunctions.register(spark);  // SELECT bleu(prediction, references), rouge(prediction, references) FROM t
 * </pre>
 *
 * Text functions take a string column and an array&lt;string&gt; column and return the metric's struct
 * (sacrebleu's and rouge-score's keys, plus {@code rows} and {@code skipped}); classification functions take
 * two label columns (integers or strings) and return a double.
 */
public final class EvaluateFunctions {
  /**
   * Accuracy does not depend on the average, but average binary refuses more than two labels (as
   * scikit-learn's f1_score does): accuracy is computed under micro, which accepts any labels.
   */
  private static final Classification.Options ACCURACY = Classification.Options.builder().average("micro").build();

  private EvaluateFunctions() {}

  /** sacrebleu corpus BLEU with default options. */
  public static Column bleu(Column prediction, Column references) {
    return text(new Bleu(), prediction, references);
  }

  /** sacrebleu corpus BLEU with the given options. */
  public static Column bleu(Column prediction, Column references, Bleu.Options options) {
    return text(new Bleu(options), prediction, references);
  }

  /** sacrebleu chrF2. */
  public static Column chrf(Column prediction, Column references) {
    return text(new Chrf(), prediction, references);
  }

  /** sacrebleu chrF2++. */
  public static Column chrfPlusPlus(Column prediction, Column references) {
    return text(Chrf.chrfPlusPlus(), prediction, references);
  }

  /** rouge-score rouge1, rouge2, rougeL, rougeLsum means, optionally with the Porter stemmer. */
  public static Column rouge(Column prediction, Column references, boolean useStemmer) {
    return text(new Rouge(List.of("rouge1", "rouge2", "rougeL", "rougeLsum"), useStemmer, false), prediction, references);
  }

  /** Hugging Face's exact_match (no options). */
  public static Column exactMatch(Column prediction, Column references) {
    return text(new ExactMatch(), prediction, references);
  }

  /** Any text metric; bad rows fail the job. */
  public static Column text(TextMetric<?> metric, Column prediction, Column references) {
    return text(metric, BadRowPolicy.FAIL, prediction, references);
  }

  /** Any text metric with a bad-row policy; the result's {@code skipped} says how many rows were left out. */
  public static Column text(TextMetric<?> metric, BadRowPolicy policy, Column prediction, Column references) {
    MetricAggregator<?> agg = MetricAggregator.of(metric, policy, prediction.toString(), references.toString());
    return udaf(agg).apply(prediction, references).as(metric.name());
  }

  /** scikit-learn's f1_score with the given options. */
  public static Column f1(Column prediction, Column reference, Classification.Options options) {
    return label(new Classification(options), "f1", prediction, reference);
  }

  public static Column precision(Column prediction, Column reference, Classification.Options options) {
    return label(new Classification(options), "precision", prediction, reference);
  }

  public static Column recall(Column prediction, Column reference, Classification.Options options) {
    return label(new Classification(options), "recall", prediction, reference);
  }

  /** scikit-learn's accuracy_score: the share of exact matches, for any number of labels. */
  public static Column accuracy(Column prediction, Column reference) {
    return label(new Classification(ACCURACY), "accuracy", prediction, reference);
  }

  /** The whole classification result as a struct (needed for average none). */
  public static Column classification(Column prediction, Column reference, Classification.Options options) {
    MetricAggregator<?> agg = MetricAggregator.of(new Classification(options), BadRowPolicy.FAIL,
        prediction.toString(), reference.toString(), false);
    return udaf(agg).apply(labelColumns(prediction, reference)).as("classification");
  }

  private static Column label(Classification c, String field, Column prediction, Column reference) {
    MetricAggregator<?> agg = MetricAggregator.value(c, field, BadRowPolicy.FAIL, prediction.toString(),
        reference.toString(), false);
    return udaf(agg).apply(labelColumns(prediction, reference)).as(field);
  }

  private static Column[] labelColumns(Column prediction, Column reference) {
    return new Column[] {
      prediction.cast("string"), reference.cast("string"), functions.typeof(prediction), functions.typeof(reference)
    };
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private static UserDefinedFunction udaf(MetricAggregator agg) {
    return functions.udaf(agg, agg.inputEncoder());
  }

  /**
   * Registers the SQL functions bleu, chrf, chrf_pp, rouge, rouge_stem, exact_match, hf_bleu (text: a string
   * and an array&lt;string&gt;) and f1, precision, recall (average binary, pos_label 1), f1_macro, f1_micro,
   * f1_weighted and accuracy (any number of labels; labels: SQL casts them to strings, so integer-looking strings count as integers).
   */
  public static void register(SparkSession spark) {
    register(spark, "bleu", new Bleu());
    register(spark, "chrf", new Chrf());
    register(spark, "chrf_pp", Chrf.chrfPlusPlus());
    register(spark, "rouge", new Rouge());
    register(spark, "rouge_stem", new Rouge(List.of("rouge1", "rouge2", "rougeL", "rougeLsum"), true, false));
    register(spark, "exact_match", new ExactMatch());
    register(spark, "hf_bleu", new HuggingFaceBleu());
    Classification.Options binary = Classification.Options.builder().build();
    registerLabel(spark, "f1", new Classification(binary), "f1");
    registerLabel(spark, "precision", new Classification(binary), "precision");
    registerLabel(spark, "recall", new Classification(binary), "recall");
    registerLabel(spark, "accuracy", new Classification(ACCURACY), "accuracy");
    for (String avg : List.of("macro", "micro", "weighted")) {
      registerLabel(spark, "f1_" + avg, new Classification(Classification.Options.builder().average(avg).build()), "f1");
    }
  }

  /** Registers one text metric as a SQL function of (prediction, references). */
  public static void register(SparkSession spark, String name, TextMetric<?> metric) {
    spark.udf().register(name, udaf(MetricAggregator.of(metric, BadRowPolicy.FAIL, "prediction", "references")));
  }

  /** Registers one classification value ("f1", "precision", "recall", "accuracy") as a SQL function. */
  public static void registerLabel(SparkSession spark, String name, Classification metric, String field) {
    spark.udf().register(name, udaf(MetricAggregator.value(metric, field, BadRowPolicy.FAIL, "prediction", "reference", true)));
  }
}
