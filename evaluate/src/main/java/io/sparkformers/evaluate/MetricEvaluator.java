package io.sparkformers.evaluate;

import java.util.List;
import org.apache.spark.ml.evaluation.Evaluator;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.util.Identifiable$;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.functions;

/**
 * A Spark ML {@link Evaluator} over our metrics, so that they plug into {@code CrossValidator} and
 * {@code TrainValidationSplit}. Metric names: bleu, chrf, chrf_pp (sacrebleu score), rouge1, rouge2, rougeL,
 * rougeLsum (mean F-measure), exact_match, and for labels f1, precision, recall, accuracy (with {@code average},
 * default "binary" as scikit-learn, and {@code posLabel}). Larger is better for all of them.
 */
public final class MetricEvaluator extends Evaluator {
  private static final long serialVersionUID = 1L;
  private static final List<String> TEXT = List.of("bleu", "chrf", "chrf_pp", "rouge1", "rouge2", "rougeL", "rougeLsum",
      "exact_match");
  private static final List<String> LABEL = List.of("f1", "precision", "recall", "accuracy");

  private final String uid;
  private final Param<String> metricName;
  private final Param<String> predictionCol;
  private final Param<String> referencesCol;
  private final Param<String> labelCol;
  private final Param<String> average;
  private final Param<String> posLabel;

  public MetricEvaluator() {
    this(Identifiable$.MODULE$.randomUID("sparkformersEval"));
  }

  public MetricEvaluator(String uid) {
    this.uid = uid;
    metricName = new Param<>(this, "metricName", "bleu, chrf, chrf_pp, rouge1, rouge2, rougeL, rougeLsum, exact_match, "
        + "f1, precision, recall or accuracy");
    predictionCol = new Param<>(this, "predictionCol", "the prediction column");
    referencesCol = new Param<>(this, "referencesCol", "the array<string> references column (text metrics)");
    labelCol = new Param<>(this, "labelCol", "the reference label column (f1, precision, recall, accuracy)");
    average = new Param<>(this, "average", "binary, micro, macro or weighted (scikit-learn's average)");
    posLabel = new Param<>(this, "posLabel", "the positive label for average binary");
    setDefault(metricName, "f1");
    setDefault(predictionCol, "prediction");
    setDefault(referencesCol, "references");
    setDefault(labelCol, "label");
    setDefault(average, "binary");
    setDefault(posLabel, "1");
  }

  @Override
  public String uid() {
    return uid;
  }

  public Param<String> metricName() {
    return metricName;
  }

  public Param<String> predictionCol() {
    return predictionCol;
  }

  public Param<String> referencesCol() {
    return referencesCol;
  }

  public Param<String> labelCol() {
    return labelCol;
  }

  public Param<String> average() {
    return average;
  }

  public Param<String> posLabel() {
    return posLabel;
  }

  public MetricEvaluator setMetricName(String v) {
    if (!TEXT.contains(v) && !LABEL.contains(v)) {
      throw new IllegalArgumentException("metricName '" + v + "': expected one of " + TEXT + " or " + LABEL);
    }
    set(metricName, v);
    return this;
  }

  public MetricEvaluator setPredictionCol(String v) {
    set(predictionCol, v);
    return this;
  }

  public MetricEvaluator setReferencesCol(String v) {
    set(referencesCol, v);
    return this;
  }

  public MetricEvaluator setLabelCol(String v) {
    set(labelCol, v);
    return this;
  }

  public MetricEvaluator setAverage(String v) {
    Classification.Options.builder().average(v);
    set(average, v);
    return this;
  }

  public MetricEvaluator setPosLabel(String v) {
    set(posLabel, v);
    return this;
  }

  @Override
  public double evaluate(Dataset<?> dataset) {
    String name = getOrDefault(metricName);
    Column pred = functions.col(getOrDefault(predictionCol));
    if (LABEL.contains(name)) {
      String pos = getOrDefault(posLabel);
      Object posValue = pos.matches("-?[0-9]+") ? (Object) Long.parseLong(pos) : pos;
      Classification.Options options = Classification.Options.builder().average(getOrDefault(average))
          .posLabel(posValue).build();
      Column ref = functions.col(getOrDefault(labelCol));
      Column c = name.equals("accuracy") ? EvaluateFunctions.accuracy(pred, ref)
          : name.equals("f1") ? EvaluateFunctions.f1(pred, ref, options)
          : name.equals("precision") ? EvaluateFunctions.precision(pred, ref, options)
          : EvaluateFunctions.recall(pred, ref, options);
      return dataset.select(c).head().getDouble(0);
    }
    Column refs = functions.col(getOrDefault(referencesCol));
    Row r;
    switch (name) {
      case "bleu":
        return dataset.select(EvaluateFunctions.bleu(pred, refs)).head().getStruct(0).getDouble(0);
      case "chrf":
        return dataset.select(EvaluateFunctions.chrf(pred, refs)).head().getStruct(0).getDouble(0);
      case "chrf_pp":
        return dataset.select(EvaluateFunctions.chrfPlusPlus(pred, refs)).head().getStruct(0).getDouble(0);
      case "exact_match":
        return dataset.select(EvaluateFunctions.exactMatch(pred, refs)).head().getStruct(0).getDouble(0);
      default:
        r = dataset.select(EvaluateFunctions.text(new Rouge(List.of(name), false, false), pred, refs)).head().getStruct(0);
        return r.getStruct(0).getDouble(r.getStruct(0).fieldIndex("fmeasure"));
    }
  }

  @Override
  public boolean isLargerBetter() {
    return true;
  }

  @Override
  public MetricEvaluator copy(ParamMap extra) {
    return defaultCopy(extra);
  }
}
