package io.sparkformers.jobs;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sparkformers.evaluate.BadRowPolicy;
import io.sparkformers.evaluate.Bleu;
import io.sparkformers.evaluate.Chrf;
import io.sparkformers.evaluate.Classification;
import io.sparkformers.evaluate.EvaluateFunctions;
import io.sparkformers.evaluate.ExactMatch;
import io.sparkformers.evaluate.HuggingFaceBleu;
import io.sparkformers.evaluate.InvalidInputException;
import io.sparkformers.evaluate.MetricException;
import io.sparkformers.evaluate.MetricResult;
import io.sparkformers.evaluate.Rouge;
import io.sparkformers.evaluate.TextMetric;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code sparkformers evaluate --input FILE.jsonl --metrics bleu,chrf,rouge,f1 ...}: scores predictions and
 * prints one JSON object with each metric under its name. Exit codes: 0 scored, 1 bad input or a metric the
 * reference tool would refuse (an empty corpus, a binary average over many labels), 2 a usage error.
 */
@Command(
    name = "evaluate",
    mixinStandardHelpOptions = true,
    showDefaultValues = true,
    description = {
      "Score predictions against references as sacrebleu, rouge-score and scikit-learn do, and print one JSON object.",
      "Text lines: {\"prediction\": str, \"references\": [str, ...]}; label lines: {\"prediction\": L, \"reference\": L}."
    })
public final class EvaluateCommand implements Callable<Integer> {
  static final List<String> TEXT_METRICS = List.of("bleu", "chrf", "chrf++", "rouge", "exact_match", "hf_bleu");
  static final List<String> LABEL_METRICS = List.of("f1", "precision", "recall", "accuracy");
  private static final ObjectMapper JSON = new ObjectMapper();

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--input", required = true, paramLabel = "FILE.jsonl", description = "one JSON object per line")
  Path input;

  @Option(names = "--metrics", split = ",", defaultValue = "bleu",
      description = "comma-separated: bleu, chrf, chrf++, rouge, exact_match, hf_bleu, f1, precision, recall, accuracy")
  List<String> metrics;

  @Option(names = "--tokenize", defaultValue = "13a", description = "BLEU tokenizer: 13a, intl, zh, char, none")
  String tokenize;

  @Option(names = "--smooth-method", defaultValue = "exp", description = "BLEU smoothing: exp, floor, add-k, none")
  String smoothMethod;

  @Option(names = "--smooth-value", description = "value for floor (default 0.1) and add-k (default 1)")
  Double smoothValue;

  @Option(names = "--lowercase", description = "case-insensitive BLEU and chrF")
  boolean lowercase;

  @Option(names = "--use-stemmer", description = "ROUGE with nltk's Porter stemmer")
  boolean useStemmer;

  @Option(names = "--average", defaultValue = "binary", description = "binary, micro, macro, weighted, none")
  String average;

  @Option(names = "--pos-label", defaultValue = "1", description = "the positive label for --average binary")
  String posLabel;

  @Option(names = "--zero-division", defaultValue = "warn", description = "warn, 0, 1, nan")
  String zeroDivision;

  @Option(names = "--skip-bad-rows", description = "leave out bad rows and report how many ('skipped') instead of failing")
  boolean skipBadRows;

  @Option(names = "--spark", paramLabel = "MASTER", description = "compute as a Spark aggregation, e.g. local[2]")
  String spark;

  @Option(names = "--result-json", paramLabel = "FILE", description = "also write the outcome as JSON (status,"
      + " exit_code, input, metrics or error), as train --result-json: a local path or a Hadoop URI")
  String resultJson;

  /** One parsed input line. */
  record Example(int line, Object prediction, List<String> references, Object reference) {}

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    List<String> unknown = new ArrayList<>();
    for (String m : metrics) {
      if (!TEXT_METRICS.contains(m) && !LABEL_METRICS.contains(m)) {
        unknown.add(m);
      }
    }
    if (!unknown.isEmpty()) {
      throw new CommandLine.ParameterException(spec.commandLine(), "Unknown metric(s) " + unknown + " in --metrics; expected "
          + TEXT_METRICS + " or " + LABEL_METRICS);
    }
    Bleu.Options bleuOptions;
    Classification.Options labelOptions;
    try {
      bleuOptions = Bleu.Options.builder().tokenize(tokenize).smoothMethod(smoothMethod).smoothValue(smoothValue)
          .lowercase(lowercase).build();
      labelOptions = Classification.Options.builder().average(average)
          .posLabel(posLabel.matches("-?[0-9]+") ? (Object) Long.parseLong(posLabel) : posLabel)
          .zeroDivision(zeroDivision).build();
    } catch (IllegalArgumentException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
    }
    boolean text = metrics.stream().anyMatch(TEXT_METRICS::contains);
    boolean labels = metrics.stream().anyMatch(LABEL_METRICS::contains);
    ResultFile outcome = new ResultFile(spec.qualifiedName()).put("input", input.toString());
    RuntimeException failure;
    try {
      List<Example> examples = read(input, text, labels);
      ObjectNode result = spark == null
          ? computeLocally(examples, bleuOptions, labelOptions)
          : computeOnSpark(examples, bleuOptions, labelOptions);
      out.println(JSON.writeValueAsString(result));
      out.flush();
      outcome.put("metrics", JSON.convertValue(result, java.util.Map.class));
      return finish(outcome, ExitCodes.OK, null);
    } catch (BadInput | InvalidInputException | MetricException e) {
      failure = e;
    } catch (java.nio.file.NoSuchFileException e) {
      failure = new java.io.UncheckedIOException("--input: no such file " + input, e);
    } catch (IOException e) {
      failure = new java.io.UncheckedIOException("cannot read " + input + ": " + e.getMessage(), e);
    }
    return finish(outcome, ExitCodes.report(spec, failure), failure);
  }

  /** Writes --result-json when asked; a file that cannot be written is a failure of its own. */
  private int finish(ResultFile outcome, int code, Throwable failure) {
    if (resultJson == null) {
      return code;
    }
    try {
      outcome.write(resultJson, code, failure, java.util.Map.of());
      return code;
    } catch (IOException | RuntimeException e) {
      int own = ExitCodes.report(spec, new java.io.UncheckedIOException("could not write --result-json "
          + resultJson + ": " + e.getMessage(), e instanceof IOException io ? io : new IOException(e)));
      return code == ExitCodes.OK ? own : code;
    }
  }

  /** Bad input, with the file and line in the message. */
  static final class BadInput extends RuntimeException {
    private static final long serialVersionUID = 1L;

    BadInput(String message) {
      super(message);
    }
  }

  static List<Example> read(Path input, boolean text, boolean labels) throws IOException {
    List<Example> out = new ArrayList<>();
    try (BufferedReader r = Files.newBufferedReader(input, StandardCharsets.UTF_8)) {
      String line;
      int n = 0;
      while ((line = r.readLine()) != null) {
        n++;
        if (line.isBlank()) {
          continue;
        }
        String where = input + ":" + n;
        JsonNode node;
        try {
          node = JSON.readTree(line);
        } catch (JsonProcessingException e) {
          throw new BadInput(where + ":" + e.getLocation().getColumnNr() + ": not valid JSON: " + e.getOriginalMessage());
        }
        if (!node.isObject()) {
          throw new BadInput(where + ": expected a JSON object, got " + node.getNodeType().toString().toLowerCase());
        }
        Object prediction = null;
        List<String> refs = null;
        Object reference = null;
        JsonNode p = node.get("prediction");
        if (p == null) {
          throw new BadInput(where + ": missing key 'prediction'");
        }
        if (text) {
          if (!p.isTextual() && !p.isNull()) {
            throw new BadInput(where + ": key 'prediction': expected a string, got " + p.getNodeType().toString().toLowerCase());
          }
          prediction = p.isNull() ? null : p.asText();
          JsonNode rs = node.get("references");
          if (rs == null) {
            throw new BadInput(where + ": missing key 'references' (a list of strings)");
          }
          if (!rs.isNull()) {
            if (!rs.isArray()) {
              throw new BadInput(where + ": key 'references': expected a list of strings, got "
                  + rs.getNodeType().toString().toLowerCase());
            }
            refs = new ArrayList<>();
            for (int i = 0; i < rs.size(); i++) {
              JsonNode x = rs.get(i);
              if (!x.isTextual() && !x.isNull()) {
                throw new BadInput(where + ": key 'references' item " + i + ": expected a string, got "
                    + x.getNodeType().toString().toLowerCase());
              }
              refs.add(x.isNull() ? null : x.asText());
            }
          }
        }
        if (labels) {
          prediction = label(p, where, "prediction");
          JsonNode rf = node.get("reference");
          if (rf == null) {
            throw new BadInput(where + ": missing key 'reference' (a label)");
          }
          reference = label(rf, where, "reference");
        }
        out.add(new Example(n, prediction, refs, reference));
      }
    }
    return out;
  }

  private static Object label(JsonNode v, String where, String key) {
    if (v.isIntegralNumber()) {
      return v.asLong();
    }
    if (v.isTextual()) {
      return v.asText();
    }
    if (v.isNumber()) {
      return v.asDouble();
    }
    if (v.isBoolean()) {
      return v.asBoolean();
    }
    throw new BadInput(where + ": key '" + key + "': expected an integer or string label, got "
        + v.getNodeType().toString().toLowerCase());
  }

  private Map<String, TextMetric<?>> textMetrics(Bleu.Options bleuOptions) {
    return textMetrics(metrics, bleuOptions, lowercase, useStemmer);
  }

  /** The text metrics among {@code metrics}, by name, in their order (also for {@link Sparkformers#evaluate}). */
  static Map<String, TextMetric<?>> textMetrics(List<String> metrics, Bleu.Options bleuOptions, boolean lowercase,
      boolean useStemmer) {
    Map<String, TextMetric<?>> m = new LinkedHashMap<>();
    for (String name : metrics) {
      switch (name) {
        case "bleu":
          m.put(name, new Bleu(bleuOptions));
          break;
        case "chrf":
          m.put(name, new Chrf().withLowercase(lowercase));
          break;
        case "chrf++":
          m.put(name, Chrf.chrfPlusPlus().withLowercase(lowercase));
          break;
        case "rouge":
          m.put(name, new Rouge(List.of("rouge1", "rouge2", "rougeL", "rougeLsum"), useStemmer, false));
          break;
        case "exact_match":
          m.put(name, new ExactMatch());
          break;
        case "hf_bleu":
          m.put(name, new HuggingFaceBleu());
          break;
        default:
          break;
      }
    }
    return m;
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private ObjectNode computeLocally(List<Example> examples, Bleu.Options bleuOptions, Classification.Options labelOptions) {
    ObjectNode result = JsonNodeFactory.instance.objectNode();
    long skipped = 0;
    Map<String, TextMetric<?>> text = textMetrics(bleuOptions);
    Map<String, Serializable> states = new LinkedHashMap<>();
    text.forEach((k, m) -> states.put(k, m.newState()));
    Classification classification = new Classification(labelOptions);
    Classification.Stats labelState = classification.newState();
    boolean labels = metrics.stream().anyMatch(LABEL_METRICS::contains);
    for (Example e : examples) {
      try {
        // Check every metric's view of the row before adding it anywhere, so a skipped row is skipped everywhere.
        if (!text.isEmpty()) {
          TextMetric.checkedReferences((String) e.prediction(), e.references());
        }
        if (labels) {
          Classification.label(e.prediction(), "prediction");
          Classification.label(e.reference(), "reference");
        }
        for (Map.Entry<String, TextMetric<?>> m : text.entrySet()) {
          ((TextMetric) m.getValue()).add(states.get(m.getKey()), (String) e.prediction(), e.references());
        }
        if (labels) {
          classification.add(labelState, e.prediction(), e.reference());
        }
      } catch (InvalidInputException ex) {
        if (!skipBadRows) {
          throw new BadInput(input + ":" + e.line() + ": " + ex.getMessage());
        }
        skipped++;
      }
    }
    for (String name : metrics) {
      if (text.containsKey(name)) {
        MetricResult r = ((TextMetric) text.get(name)).compute(states.get(name));
        result.set(name, toJson(name, r.asMap()));
      }
    }
    if (labels) {
      putLabels(result, classification.compute(labelState).asMap());
    }
    if (skipBadRows) {
      result.put("skipped", skipped);
    }
    return result;
  }

  private void putLabels(ObjectNode result, Map<String, Object> values) {
    for (String name : metrics) {
      if (LABEL_METRICS.contains(name)) {
        result.set(name, JSON.valueToTree(values.get(name)));
      }
    }
    if (values.containsKey("labels") && metrics.stream().anyMatch(m -> !m.equals("accuracy") && LABEL_METRICS.contains(m))) {
      result.set("labels", JSON.valueToTree(values.get("labels")));
    }
  }

  /** The keys the issue names for each metric (sacrebleu's for bleu; the score for chrF; rouge-score means). */
  private static JsonNode toJson(String name, Map<String, Object> values) {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    for (Map.Entry<String, Object> e : values.entrySet()) {
      if (e.getKey().equals("rows") || e.getKey().equals("skipped")) {
        continue;
      }
      Object v = e.getValue();
      if (v instanceof MetricResult) {
        o.set(e.getKey(), toJson(e.getKey(), ((MetricResult) v).asMap()));
      } else if (v instanceof Row) {
        o.set(e.getKey(), toJson(e.getKey(), rowMap((Row) v)));
      } else if (v instanceof scala.collection.Seq) {
        o.set(e.getKey(), JSON.valueToTree(scala.collection.JavaConverters.seqAsJavaListConverter((scala.collection.Seq<?>) v).asJava()));
      } else {
        o.set(e.getKey(), JSON.valueToTree(v));
      }
    }
    return o;
  }

  private static Map<String, Object> rowMap(Row r) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < r.length(); i++) {
      m.put(r.schema().fields()[i].name(), r.get(i));
    }
    return m;
  }

  private ObjectNode computeOnSpark(List<Example> examples, Bleu.Options bleuOptions, Classification.Options labelOptions) {
    SparkSession session = SparkSession.builder().master(spark).appName("sparkformers evaluate")
        .config("spark.ui.enabled", "false").getOrCreate();
    try {
      ObjectNode result = JsonNodeFactory.instance.objectNode();
      BadRowPolicy policy = skipBadRows ? BadRowPolicy.SKIP : BadRowPolicy.FAIL;
      Map<String, TextMetric<?>> text = textMetrics(bleuOptions);
      long skipped = 0;
      if (!text.isEmpty()) {
        StructType schema = DataTypes.createStructType(List.of(
            DataTypes.createStructField("prediction", DataTypes.StringType, true),
            DataTypes.createStructField("references", DataTypes.createArrayType(DataTypes.StringType), true)));
        List<Row> rows = new ArrayList<>();
        for (Example e : examples) {
          rows.add(RowFactory.create(e.prediction(), e.references() == null ? null : e.references().toArray(new String[0])));
        }
        Dataset<Row> df = session.createDataFrame(rows, schema);
        List<Column> columns = new ArrayList<>();
        for (TextMetric<?> m : text.values()) {
          columns.add(EvaluateFunctions.text(m, policy, functions.col("prediction"), functions.col("references")));
        }
        Row r = df.agg(columns.get(0), columns.subList(1, columns.size()).toArray(new Column[0])).head();
        int i = 0;
        for (String name : text.keySet()) {
          Row metricRow = r.getStruct(i++);
          skipped = Math.max(skipped, metricRow.getLong(metricRow.fieldIndex("skipped")));
          result.set(name, toJson(name, rowMap(metricRow)));
        }
      }
      if (metrics.stream().anyMatch(LABEL_METRICS::contains)) {
        boolean integers = examples.stream().allMatch(e -> e.prediction() instanceof Long && e.reference() instanceof Long);
        StructType schema = DataTypes.createStructType(List.of(
            DataTypes.createStructField("prediction", integers ? DataTypes.LongType : DataTypes.StringType, true),
            DataTypes.createStructField("reference", integers ? DataTypes.LongType : DataTypes.StringType, true)));
        List<Row> rows = new ArrayList<>();
        for (Example e : examples) {
          rows.add(integers ? RowFactory.create(e.prediction(), e.reference())
              : RowFactory.create(String.valueOf(e.prediction()), String.valueOf(e.reference())));
        }
        Row r = session.createDataFrame(rows, schema)
            .select(EvaluateFunctions.classification(functions.col("prediction"), functions.col("reference"), labelOptions))
            .head().getStruct(0);
        Map<String, Object> values = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : rowMap(r).entrySet()) {
          Object v = e.getValue();
          values.put(e.getKey(), v instanceof scala.collection.Seq
              ? scala.collection.JavaConverters.seqAsJavaListConverter((scala.collection.Seq<?>) v).asJava() : v);
        }
        putLabels(result, values);
      }
      if (skipBadRows) {
        result.put("skipped", skipped);
      }
      return result;
    } catch (RuntimeException e) {
      for (Throwable t = e; t != null; t = t.getCause()) {
        if (t instanceof InvalidInputException || t instanceof MetricException) {
          throw new BadInput(input + ": " + t.getMessage());
        }
      }
      throw e;
    } finally {
      session.stop();
    }
  }
}
