package io.sparkformers.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The train, evaluate and generate jobs from a notebook's point of view: the caller's SparkSession, kept running, and a typed result. */
class SparkformersApiTest {
  static SparkSession spark;
  @TempDir Path tmp;

  @BeforeAll
  static void start() {
    // As a notebook makes it: a session of its own, no spark.master system property.
    spark = SparkSession.builder().master("local[2]").appName("notebook")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false").config("spark.scheduler.barrier.maxConcurrentTasksCheck.interval", "1s")
        .getOrCreate();
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  private static String quickstartYaml() throws Exception {
    try (InputStream in = QuickstartCommand.class.getResourceAsStream("quickstart.yaml")) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  @Test
  void trainsOnTheCallersSessionAndLeavesItRunning() throws Exception {
    Path out = tmp.resolve("qs");
    Sparkformers.TrainResult r = Sparkformers.train(spark, quickstartYaml(), "num_train_epochs=1",
        "training_args.output_dir=" + out, "disable_tqdm=true", "save_strategy=no", "eval_strategy=no",
        "load_best_model_at_end=false");
    assertEquals(23.0, r.metrics().get("global_step"), "1,437 rows, 32 per rank on 2 ranks: 23 steps");
    double accuracy = r.metrics().get("eval_accuracy");
    assertTrue(accuracy > 0.5 && accuracy <= 1.0, "accuracy " + accuracy);
    assertEquals(out.toString(), r.outputDir());
    assertTrue(Files.isRegularFile(Path.of(r.modelDir(), "model.safetensors")));
    assertTrue(r.logHistory().stream().anyMatch(e -> e.containsKey("train_loss")), r.logHistory().toString());
    assertFalse(spark.sparkContext().isStopped(), "the caller's session is still running");
    assertEquals(3, spark.range(3).count());
  }

  @Test
  void aBadKeyInAMapJobIsNamedAndTheSessionSurvives() {
    Map<String, Object> job = Map.of("model", Map.of("config", Map.of("model_type", "mlp", "input_size", 4,
        "hidden_sizes", java.util.List.of(4), "num_labels", 2)), "data", Map.of("train_file", "x.csv"),
        "training_args", Map.of("output_dir", tmp.toString(), "learning_rte", 0.1));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Sparkformers.train(spark, job));
    assertTrue(e.getMessage().contains("unknown key 'learning_rte'") && e.getMessage().contains("learning_rate"),
        e.getMessage());
    assertFalse(spark.sparkContext().isStopped());
  }

  private static Dataset<Row> jsonLines(String resource) throws Exception {
    return spark.read().json(Path.of(SparkformersApiTest.class.getResource(resource).toURI()).toString());
  }

  @Test
  void evaluatesADataFrameAsSacrebleuRougeScoreAndScikitLearn() throws Exception {
    // The same files and reference values as EvaluateCommandTest (sacrebleu 2.6.0, rouge-score, scikit-learn).
    Sparkformers.EvaluateResult text = Sparkformers.evaluate(jsonLines("/evaluate/some_empty.jsonl"),
        List.of("bleu", "chrf", "rouge"), Map.of("use_stemmer", true));
    assertEquals(54.45434683706466, text.get("bleu.score"), 1e-9);
    assertEquals(2733.0, text.get("bleu.sys_len"));
    assertEquals(3260.0, text.get("bleu.ref_len"));
    assertEquals("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0",
        ((Map<?, ?>) text.metrics().get("bleu")).get("signature"));
    assertEquals(4, ((List<?>) ((Map<?, ?>) text.metrics().get("bleu")).get("counts")).size());
    assertEquals(68.06545575977032, text.get("chrf.score"), 1e-9);
    assertEquals(0.613777623570324, text.get("rouge.rougeLsum.fmeasure"), 1e-9);
    assertEquals(0.610981311623772, text.get("rouge.rougeLsum.precision"), 1e-9);

    Sparkformers.EvaluateResult labels = Sparkformers.evaluate(jsonLines("/evaluate/multiclass_string.jsonl"),
        List.of("f1", "accuracy"), Map.of("average", "none"));
    double[] want = {0.7931034482758621, 0.7261146496815287, 0.7933333333333334, 0.06666666666666667,
        0.14285714285714288, 0.8102893890675241};
    List<?> f1 = (List<?>) labels.metrics().get("f1");
    for (int i = 0; i < want.length; i++) {
      assertEquals(want[i], ((Number) f1.get(i)).doubleValue(), 1e-12);
    }
    assertEquals("capitalized", ((List<?>) labels.metrics().get("labels")).get(0));
    assertEquals(0.748, labels.get("accuracy"), 1e-12);
    assertEquals(0.748, Sparkformers.evaluate(jsonLines("/evaluate/multiclass_string.jsonl"), "accuracy")
        .get("accuracy"), 1e-12);

    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Sparkformers.evaluate(
        jsonLines("/evaluate/multiclass_string.jsonl"), "bleu"));
    assertEquals("the predictions DataFrame has no column 'references'; columns are id, prediction, reference",
        e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Sparkformers.evaluate(
        jsonLines("/evaluate/multiclass_string.jsonl"), List.of("accuracy"), Map.of("averge", "macro")));
    assertTrue(e.getMessage().startsWith("unknown evaluate option(s) [averge]"), e.getMessage());
    // A metric's own refusal (binary average over six labels) comes back as its message, the session alive.
    e = assertThrows(IllegalArgumentException.class, () -> Sparkformers.evaluate(
        jsonLines("/evaluate/multiclass_string.jsonl"), "f1"));
    assertTrue(e.getMessage().contains("binary"), e.getMessage());
    assertFalse(spark.sparkContext().isStopped());
  }

  @Test
  void generatesOnTheCallersSessionInThePromptsOrder() throws Exception {
    Path model = GenerateCommandTest.tinyModelWithTokenizer(tmp);
    String prompt = "w165 w26 w221 w213 w605";
    String second = "w202 w746 w165 w798 w224 w983 w327 w245";
    Sparkformers.GenerateResult r = Sparkformers.generate(spark, model.toString(), List.of(prompt, second, prompt),
        Map.of("max_new_tokens", 10, "batch_size", 2));
    // PyTorch's greedy tokens for this tiny GPT-2 (the model folder's README).
    String greedy = "w110 w165 w26 w221 w898 w221 w213 w165 w110 w221";
    assertEquals(3, r.generations().size());
    assertEquals(greedy, r.texts().get(0));
    assertEquals(greedy, r.texts().get(2));
    assertEquals(List.of(110, 165, 26, 221, 898, 221, 213, 165, 110, 221), r.generations().get(0).generatedIds());
    assertEquals(second, r.generations().get(1).prompt());
    assertEquals(List.of(268, 408, 165, 327, 279, 451, 165, 760, 279, 408), r.generations().get(1).generatedIds());
    assertEquals("w268 w408 w165 w327 w279 w451 w165 w760 w279 w408", r.texts().get(1));

    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Sparkformers.generate(spark,
        model.toString(), List.of(prompt), Map.of("max_new_token", 3)));
    assertTrue(e.getMessage().startsWith("unknown generate option(s) [max_new_token]"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Sparkformers.generate(spark,
        tmp.resolve("nothing").toString(), List.of(prompt), Map.of()));
    assertTrue(e.getMessage().endsWith("is not a model folder: it has no config.json"), e.getMessage());
    assertFalse(spark.sparkContext().isStopped());
    assertEquals(3, spark.range(3).count());
  }
}
