package io.sparkformers.jobs;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.sparkformers.evaluate.BadRowPolicy;
import io.sparkformers.evaluate.Bleu;
import io.sparkformers.evaluate.Classification;
import io.sparkformers.evaluate.EvaluateFunctions;
import io.sparkformers.evaluate.InvalidInputException;
import io.sparkformers.evaluate.MetricException;
import io.sparkformers.evaluate.TextMetric;
import io.sparkformers.jobs.train.JobConfig;
import io.sparkformers.jobs.train.TrainJob;
import io.sparkformers.training.models.GenerationConfig;
import io.sparkformers.training.pipelines.SparkTextGeneration;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * The train, evaluate and generate jobs as library calls, for notebooks and applications that hold their own
 * {@link SparkSession}: each runs on the caller's Spark, which it never stops, never exits the JVM, and returns a
 * typed result. Bad input is an {@link IllegalArgumentException} naming the key, file or column, raised before
 * any Spark job starts where the input alone shows it.
 *
 * <pre>{@code
 * Sparkformers.TrainResult r = Sparkformers.train(spark, Files.readString(Path.of("job.yaml")),
 *     "num_train_epochs=1");
 * r.metrics().get("eval_accuracy");
 * }</pre>
 */
public final class Sparkformers {
  private Sparkformers() {}

  /**
   * What a train job produced: rank 0's final metrics, the output folder, the saved model folder (the model, or
   * the adapter of a peft job, with the tokenizer files), and the log history ({@code log_history.jsonl}; empty
   * when the output is not on the local file system).
   */
  public record TrainResult(Map<String, Double> metrics, String outputDir, String modelDir,
      List<Map<String, Object>> logHistory) {}

  /** Runs a job file's text ({@code key=value} overrides as {@code --set} takes them) on {@code spark}. */
  public static TrainResult train(SparkSession spark, String jobYaml, String... overrides) {
    return run(spark, JobConfig.parse(jobYaml, "job", List.of(overrides)));
  }

  /** Runs a job given as the job file's map (sections model, data, training_args, ...) on {@code spark}. */
  public static TrainResult train(SparkSession spark, Map<String, ?> job) {
    try {
      String yaml = new ObjectMapper(new YAMLFactory()).writeValueAsString(job);
      return run(spark, JobConfig.parse(yaml, "job", List.of()));
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalArgumentException("job: the map cannot be written as a job file: " + e.getMessage(), e);
    }
  }

  private static TrainResult run(SparkSession spark, JobConfig job) {
    try {
      Map<String, Double> metrics = TrainJob.run(job, spark);
      String out = job.trainingArguments().outputDir();
      return new TrainResult(metrics, out, out + "/model", logHistory(out));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @SuppressWarnings("unchecked")
  private static List<Map<String, Object>> logHistory(String outputDir) throws IOException {
    List<Map<String, Object>> out = new ArrayList<>();
    if (outputDir.contains("://")) {
      return out;
    }
    Path file = Path.of(outputDir, "log_history.jsonl");
    if (!Files.isRegularFile(file)) {
      return out;
    }
    ObjectMapper json = new ObjectMapper();
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      if (!line.isBlank()) {
        out.add(json.readValue(line, Map.class));
      }
    }
    return out;
  }

  /**
   * What {@link #evaluate} scored: each metric by name. A text metric (bleu, chrf, chrf++, rouge, exact_match,
   * hf_bleu) maps to its fields as {@code ./sparkformers evaluate} prints them (bleu: score, counts, totals,
   * precisions, bp, sys_len, ref_len, ...; rouge: rouge1, rouge2, rougeL, rougeLsum, each with precision, recall
   * and fmeasure), nested results as maps and arrays as lists; a label metric (f1, precision, recall, accuracy)
   * maps to its value (a list per label with average none; {@code labels} then names them).
   */
  public record EvaluateResult(Map<String, Object> metrics) {
    /** The number at a dotted path: {@code "bleu.score"}, {@code "rouge.rougeL.fmeasure"}, {@code "f1"}. */
    public double get(String path) {
      Object v = metrics;
      for (String key : path.split("\\.")) {
        if (!(v instanceof Map<?, ?> m) || !m.containsKey(key)) {
          throw new IllegalArgumentException("no metric value at '" + path + "'; metrics are " + metrics);
        }
        v = m.get(key);
      }
      if (!(v instanceof Number n)) {
        throw new IllegalArgumentException("'" + path + "' is not a number: " + v);
      }
      return n.doubleValue();
    }
  }

  /** The options {@link #evaluate} takes, as {@code ./sparkformers evaluate} names them (snake_case). */
  private static final Set<String> EVALUATE_OPTIONS = new TreeSet<>(List.of("tokenize", "smooth_method",
      "smooth_value", "lowercase", "use_stemmer", "average", "pos_label", "zero_division", "skip_bad_rows",
      "prediction_column", "references_column", "reference_column"));

  /** Scores a DataFrame with the default options: see {@link #evaluate(Dataset, List, Map)}. */
  public static EvaluateResult evaluate(Dataset<Row> predictions, String... metrics) {
    return evaluate(predictions, List.of(metrics), Map.of());
  }

  /**
   * Scores {@code predictions} as one Spark aggregation on the DataFrame's own session, with the same metrics and
   * options as {@code ./sparkformers evaluate}: text metrics read a string column {@code prediction} and an
   * array&lt;string&gt; column {@code references}; label metrics a {@code prediction} and a {@code reference}
   * column (integers or strings). Options (all optional): tokenize (13a), smooth_method (exp), smooth_value,
   * lowercase, use_stemmer, average (binary), pos_label (1), zero_division (warn), skip_bad_rows (false: a bad
   * row fails the call; true: it is left out and counted in each text metric's {@code skipped}), and the column
   * names prediction_column, references_column, reference_column.
   */
  public static EvaluateResult evaluate(Dataset<Row> predictions, List<String> metrics, Map<String, ?> options) {
    Set<String> unknown = new TreeSet<>(options.keySet());
    unknown.removeAll(EVALUATE_OPTIONS);
    if (!unknown.isEmpty()) {
      throw new IllegalArgumentException("unknown evaluate option(s) " + unknown + "; options are " + EVALUATE_OPTIONS);
    }
    if (metrics.isEmpty()) {
      throw new IllegalArgumentException("no metrics: name some of " + EvaluateCommand.TEXT_METRICS + " or "
          + EvaluateCommand.LABEL_METRICS);
    }
    for (String m : metrics) {
      if (!EvaluateCommand.TEXT_METRICS.contains(m) && !EvaluateCommand.LABEL_METRICS.contains(m)) {
        throw new IllegalArgumentException("unknown metric '" + m + "'; metrics are " + EvaluateCommand.TEXT_METRICS
            + " and " + EvaluateCommand.LABEL_METRICS);
      }
    }
    Map<String, Object> o = new HashMap<>(options);
    String prediction = string(o, "prediction_column", "prediction");
    Bleu.Options bleu = Bleu.Options.builder().tokenize(string(o, "tokenize", "13a"))
        .smoothMethod(string(o, "smooth_method", "exp"))
        .smoothValue(o.get("smooth_value") == null ? null : ((Number) o.get("smooth_value")).doubleValue())
        .lowercase(bool(o, "lowercase")).build();
    Map<String, TextMetric<?>> text = EvaluateCommand.textMetrics(metrics, bleu, bool(o, "lowercase"),
        bool(o, "use_stemmer"));
    Map<String, Object> result = new LinkedHashMap<>();
    try {
      if (!text.isEmpty()) {
        String references = string(o, "references_column", "references");
        requireColumns(predictions, prediction, references);
        BadRowPolicy policy = bool(o, "skip_bad_rows") ? BadRowPolicy.SKIP : BadRowPolicy.FAIL;
        List<Column> columns = new ArrayList<>();
        for (TextMetric<?> m : text.values()) {
          columns.add(EvaluateFunctions.text(m, policy, functions.col(prediction), functions.col(references)));
        }
        Row r = predictions.agg(columns.get(0), columns.subList(1, columns.size()).toArray(new Column[0])).head();
        int i = 0;
        for (String name : text.keySet()) {
          result.put(name, javaValue(r.get(i++)));
        }
      }
      List<String> labelMetrics = metrics.stream().filter(EvaluateCommand.LABEL_METRICS::contains).toList();
      if (!labelMetrics.isEmpty()) {
        String reference = string(o, "reference_column", "reference");
        requireColumns(predictions, prediction, reference);
        Object posLabel = o.getOrDefault("pos_label", 1);
        // Accuracy takes no average, but the classification result it is read from refuses binary over many
        // labels: micro then, when accuracy is all that is asked.
        String average = string(o, "average", labelMetrics.equals(List.of("accuracy")) ? "micro" : "binary");
        Classification.Options labels = Classification.Options.builder().average(average)
            .posLabel(posLabel instanceof Integer n ? (Object) n.longValue() : posLabel)
            .zeroDivision(String.valueOf(o.getOrDefault("zero_division", "warn"))).build();
        @SuppressWarnings("unchecked")
        Map<String, Object> values = (Map<String, Object>) javaValue(predictions.select(EvaluateFunctions
            .classification(functions.col(prediction), functions.col(reference), labels)).head().get(0));
        for (String name : labelMetrics) {
          result.put(name, values.get(name));
        }
        if (labelMetrics.stream().anyMatch(m -> !m.equals("accuracy")) && values.get("labels") != null) {
          result.put("labels", values.get("labels"));
        }
      }
    } catch (Exception e) { // SparkException is checked, though no Scala method declares it
      // Spark wraps a metric's own error in its job failure, as a cause or (from an executor) as text only:
      // the metric's message is the one to show.
      for (Throwable t = e; t != null; t = t.getCause()) {
        if (t instanceof InvalidInputException || t instanceof MetricException) {
          throw new IllegalArgumentException(t.getMessage(), e);
        }
        for (Class<?> c : List.of(InvalidInputException.class, MetricException.class)) {
          String m = t.getMessage() == null ? "" : t.getMessage();
          int at = m.indexOf(c.getName() + ": ");
          if (at >= 0) {
            String rest = m.substring(at + c.getName().length() + 2);
            throw new IllegalArgumentException(rest.lines().findFirst().orElse(rest), e);
          }
        }
      }
      throw Sparkformers.<RuntimeException>rethrow(e);
    }
    return new EvaluateResult(Collections.unmodifiableMap(result));
  }

  /** Throws {@code e} as it is (a SparkException too), where the compiler expects no checked exception. */
  @SuppressWarnings("unchecked")
  private static <T extends Exception> T rethrow(Exception e) throws T {
    throw (T) e;
  }

  private static void requireColumns(Dataset<Row> df, String... columns) {
    for (String c : columns) {
      if (!df.schema().getFieldIndex(c).isDefined()) {
        throw new IllegalArgumentException("the predictions DataFrame has no column '" + c + "'; columns are "
            + String.join(", ", df.columns()));
      }
    }
  }

  private static String string(Map<String, Object> options, String key, String otherwise) {
    Object v = options.get(key);
    return v == null ? otherwise : v.toString();
  }

  private static boolean bool(Map<String, Object> options, String key) {
    Object v = options.get(key);
    return v instanceof Boolean b ? b : v != null && Boolean.parseBoolean(v.toString());
  }

  /** A Spark SQL value as plain Java: structs as maps (field order kept), arrays as lists. */
  private static Object javaValue(Object v) {
    if (v instanceof Row r) {
      Map<String, Object> m = new LinkedHashMap<>();
      for (int i = 0; i < r.length(); i++) {
        m.put(r.schema().fields()[i].name(), javaValue(r.get(i)));
      }
      return m;
    }
    if (v instanceof scala.collection.Seq<?> seq) {
      List<Object> l = new ArrayList<>();
      for (Object x : scala.collection.JavaConverters.seqAsJavaListConverter(seq).asJava()) {
        l.add(javaValue(x));
      }
      return l;
    }
    return v;
  }

  /** One prompt's continuation: the new tokens' text and ids. */
  public record Generation(String prompt, String text, List<Integer> generatedIds) {}

  /** What {@link #generate} produced: one {@link Generation} per prompt, in the prompts' order. */
  public record GenerateResult(List<Generation> generations) {
    /** The continuations' texts, in the prompts' order. */
    public List<String> texts() {
      return generations.stream().map(Generation::text).toList();
    }
  }

  /** The options {@link #generate} takes, as transformers' generate and generation_config.json name them. */
  private static final Set<String> GENERATE_OPTIONS = new TreeSet<>(List.of("max_new_tokens", "do_sample",
      "temperature", "top_k", "top_p", "repetition_penalty", "seed", "batch_size"));

  /**
   * Continues each prompt with a causal LM folder (config.json, model.safetensors, tokenizer.json; a local path
   * every executor reaches or a Hadoop URI) as a Spark job on {@code spark}: the prompts are spread over the
   * session's default parallelism, each executor loads the model once, and prompts go through in left-padded
   * batches. Options: max_new_tokens, do_sample, temperature, top_k, top_p, repetition_penalty, seed (the folder's
   * generation_config.json, else transformers' defaults, for what is not given) and batch_size (8).
   */
  public static GenerateResult generate(SparkSession spark, String modelDir, List<String> prompts,
      Map<String, ?> options) {
    Set<String> unknown = new TreeSet<>(options.keySet());
    unknown.removeAll(GENERATE_OPTIONS);
    if (!unknown.isEmpty()) {
      throw new IllegalArgumentException("unknown generate option(s) " + unknown + "; options are " + GENERATE_OPTIONS);
    }
    if (prompts.isEmpty()) {
      throw new IllegalArgumentException("no prompts");
    }
    boolean uri = modelDir.contains("://");
    if (!uri && !Files.isRegularFile(Path.of(modelDir, "config.json"))) {
      throw new IllegalArgumentException(modelDir + " is not a model folder: it has no config.json");
    }
    Map<String, Object> o = new HashMap<>(options);
    int batchSize = o.containsKey("batch_size") ? ((Number) o.remove("batch_size")).intValue() : 8;
    GenerationConfig generation = null; // the folder's generation_config.json, read where the model loads
    if (!o.isEmpty()) {
      try {
        GenerationConfig.Builder b = uri ? GenerationConfig.builder() : GenerationConfig.fromPretrained(Path.of(modelDir));
        o.forEach((k, v) -> setGeneration(b, k, v));
        generation = b.build();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < prompts.size(); i++) {
      rows.add(RowFactory.create(i, prompts.get(i)));
    }
    StructType schema = new StructType().add("index", DataTypes.IntegerType).add("prompt", DataTypes.StringType);
    int partitions = Math.max(1, Math.min(prompts.size(), spark.sparkContext().defaultParallelism()));
    Dataset<Row> df = spark.createDataFrame(rows, schema).repartition(partitions);
    List<Row> out = SparkTextGeneration.generate(df, "prompt", modelDir, generation, batchSize)
        .orderBy("index").collectAsList();
    List<Generation> generations = new ArrayList<>();
    for (Row r : out) {
      generations.add(new Generation(r.getString(1), r.getString(2), List.copyOf(r.<Integer>getList(3))));
    }
    return new GenerateResult(Collections.unmodifiableList(generations));
  }

  private static void setGeneration(GenerationConfig.Builder b, String key, Object v) {
    if (key.equals("do_sample") ? !(v instanceof Boolean) : !(v instanceof Number)) {
      throw new IllegalArgumentException("generate option " + key + " must be " + (key.equals("do_sample")
          ? "true or false" : "a number") + ", got " + v);
    }
    switch (key) {
      case "max_new_tokens" -> b.maxNewTokens(((Number) v).intValue());
      case "do_sample" -> b.doSample((Boolean) v);
      case "temperature" -> b.temperature(((Number) v).doubleValue());
      case "top_k" -> b.topK(((Number) v).intValue());
      case "top_p" -> b.topP(((Number) v).doubleValue());
      case "repetition_penalty" -> b.repetitionPenalty(((Number) v).doubleValue());
      case "seed" -> b.seed(((Number) v).longValue());
      default -> throw new IllegalArgumentException("unknown generate option " + key);
    }
  }
}
