package io.sparkformers.it.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparkformers.evaluate.Bleu;
import io.sparkformers.evaluate.Chrf;
import io.sparkformers.evaluate.TextMetric;
import io.sparkformers.it.LocalClusterSpark;
import io.sparkformers.training.models.GenerationConfig;
import io.sparkformers.training.pipelines.TextGenerationPipeline;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import javax.script.ScriptEngine;
import javax.script.ScriptEngineManager;
import javax.script.ScriptException;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The example notebooks in examples/notebooks, run cell by cell as a notebook's Scala kernel runs them: each code
 * cell is compiled and run by the Scala compiler of the Spark build (2.13 for Spark 4.0, 2.12 for Spark 3.5)
 * through its JSR-223 engine, in one interpreter per notebook whose {@code spark} is a session on
 * {@code local-cluster[2,1,1024]} (two executor JVMs). The cells' own values are then checked: the trained
 * model's accuracy and steps, BLEU and chrF against the evaluate module computed in this JVM, and the
 * continuations against the same model's pipeline run in this JVM.
 */
class NotebooksIT {
  private static final String CELL = "// COMMAND ----------";
  static JavaSparkContext sc;
  static SparkSession spark;
  @TempDir static Path tmp;
  static Path model;

  @BeforeAll
  static void start() throws Exception {
    sc = LocalClusterSpark.start(LocalClusterSpark.conf(2, 1, 1024, "notebooks-it")
        .set("spark.executorEnv.DJL_CACHE_DIR", System.getenv().getOrDefault("DJL_CACHE_DIR", tmp + "/djl")),
        2, Duration.ofSeconds(90));
    spark = SparkSession.builder().sparkContext(sc.sc()).getOrCreate();
    model = tinyCausalLm(tmp.resolve("gpt2-tiny"));
    // Scala's JSR-223 engine compiles against this JVM's class path (the jars a notebook's cluster has attached).
    System.setProperty("scala.usejavacp", "true");
  }

  @AfterAll
  static void stop() {
    System.clearProperty("sparkformers.notebook.dir");
    System.clearProperty("sparkformers.notebook.lm");
    if (sc != null) {
      sc.stop();
    }
  }

  /** The repository's tiny GPT-2 with a word-level tokenizer.json: "w<id>" is token id, 999 <|endoftext|>. */
  static Path tinyCausalLm(Path dir) throws Exception {
    Path src = Path.of(System.getenv("SPARKFORMERS_ROOT"), "jobs/src/test/resources/models/gpt2-tiny");
    Files.createDirectories(dir);
    Files.copy(src.resolve("config.json"), dir.resolve("config.json"));
    Files.copy(src.resolve("model.safetensors"), dir.resolve("model.safetensors"));
    StringBuilder vocab = new StringBuilder();
    for (int i = 0; i < 999; i++) {
      vocab.append("\"w").append(i).append("\":").append(i).append(',');
    }
    Files.writeString(dir.resolve("tokenizer.json"), "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":999,"
        + "\"content\":\"<|endoftext|>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,"
        + "\"normalized\":false,\"special\":true}],\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"Whitespace\"},"
        + "\"post_processor\":null,\"decoder\":null,\"model\":{\"type\":\"WordLevel\",\"vocab\":{" + vocab
        + "\"<|endoftext|>\":999},\"unk_token\":\"<|endoftext|>\"}}");
    return dir;
  }

  /** The code cells of a Databricks source-format notebook: markdown (all "// MAGIC") cells left out. */
  static List<String> databricksCells(Path notebook) throws Exception {
    String source = Files.readString(notebook);
    assertTrue(source.startsWith("// Databricks notebook source\n"), "the Databricks source header");
    List<String> cells = new ArrayList<>();
    for (String cell : source.substring(source.indexOf('\n') + 1).split("\n" + CELL + "\n")) {
      if (!cell.isBlank() && !cell.strip().lines().allMatch(l -> l.startsWith("// MAGIC"))) {
        cells.add(cell);
      }
    }
    return cells;
  }

  /** The Scala code cells of a Jupyter notebook, without the cells of kernel magics (%%configure). */
  static List<String> jupyterCells(Path notebook) throws Exception {
    JsonNode nb = new ObjectMapper().readTree(notebook.toFile());
    assertEquals("scala", nb.path("metadata").path("kernelspec").path("language").asText());
    List<String> cells = new ArrayList<>();
    for (JsonNode cell : nb.get("cells")) {
      if (cell.get("cell_type").asText().equals("code")) {
        StringBuilder code = new StringBuilder();
        cell.get("source").forEach(line -> code.append(line.asText()));
        if (!code.toString().startsWith("%%")) {
          cells.add(code.toString());
        }
      }
    }
    return cells;
  }

  /** A fresh Scala interpreter with the notebook's spark, as Databricks and Spark kernels predefine it. */
  static ScriptEngine kernel() throws ScriptException {
    ScriptEngine scala = new ScriptEngineManager().getEngineByName("scala");
    assertNotNull(scala, "no JSR-223 engine 'scala' on the class path (scala-compiler)");
    scala.eval("val spark = org.apache.spark.sql.SparkSession.active");
    return scala;
  }

  static void runCells(ScriptEngine scala, List<String> cells, String notebook) {
    for (int i = 0; i < cells.size(); i++) {
      try {
        scala.eval(cells.get(i));
      } catch (ScriptException e) {
        fail(notebook + ": code cell " + (i + 1) + " failed: " + e.getMessage() + "\n" + cells.get(i), e);
      }
    }
  }

  @Test
  void theDatabricksNotebookRunsAsShipped() throws Exception {
    Path notebook = Path.of(System.getenv("SPARKFORMERS_ROOT"), "examples/notebooks/sparkformers_databricks.scala");
    runAndCheck(databricksCells(notebook), notebook, tmp.resolve("databricks"));
  }

  @Test
  void theEmrStudioNotebookRunsAsShipped() throws Exception {
    Path notebook = Path.of(System.getenv("SPARKFORMERS_ROOT"), "examples/notebooks/sparkformers_emr_studio.ipynb");
    runAndCheck(jupyterCells(notebook), notebook, tmp.resolve("emr"));
  }

  private void runAndCheck(List<String> cells, Path notebook, Path workDir) throws Exception {
    assertEquals(4, cells.size(), "settings, train, evaluate and generate cells: " + cells);
    System.setProperty("sparkformers.notebook.dir", workDir.toString());
    System.setProperty("sparkformers.notebook.lm", model.toString());
    ScriptEngine scala = kernel();
    runCells(scala, cells, notebook.getFileName().toString());

    // Train: 1,437 training rows in batches of 32 on 2 ranks is 23 steps an epoch, 3 epochs.
    assertEquals(69.0, ((Number) scala.eval("trained.metrics.get(\"global_step\")")).doubleValue());
    double accuracy = ((Number) scala.eval("accuracy")).doubleValue();
    assertTrue(accuracy > 0.85 && accuracy <= 1.0, "eval_accuracy " + accuracy);
    assertEquals(accuracy, ((Number) scala.eval("trained.metrics.get(\"eval_accuracy\")")).doubleValue());
    assertTrue(Files.isRegularFile(workDir.resolve("digits/model/model.safetensors")));
    assertFalse(spark.sparkContext().isStopped(), "a cell stopped the notebook's session");

    // Evaluate: the aggregation over executors equals the evaluate module's metrics computed here.
    List<String[]> rows = List.of(
        new String[] {"The cat sat on the mat.", "The cat sat on the mat."},
        new String[] {"A quick brown fox jumps over the dog.", "The quick brown fox jumps over the lazy dog."},
        new String[] {"It is raining today in the city.", "Today it is raining in the city."},
        new String[] {"Spark trains the model.", "Spark trains models on executors."});
    double bleu = local(new Bleu(Bleu.Options.builder().build()), rows);
    assertTrue(bleu > 10 && bleu < 100, "BLEU " + bleu);
    assertEquals(bleu, ((Number) scala.eval("bleu")).doubleValue(), 1e-9);
    assertEquals(local(new Chrf(), rows), ((Number) scala.eval("scores.get(\"chrf.score\")")).doubleValue(), 1e-9);
    assertEquals(0.25, ((Number) scala.eval("scores.get(\"exact_match.exact_match\")")).doubleValue());

    // Generate: the executors' continuations equal the same model's pipeline in this JVM.
    List<String> prompts = List.of("Once upon a time", "The weather today is");
    @SuppressWarnings("unchecked")
    List<Object> generated = (List<Object>) scala.eval("generated.generations");
    assertEquals(2, generated.size());
    try (TextGenerationPipeline pipe = TextGenerationPipeline.fromPretrained(model)) {
      List<TextGenerationPipeline.Result> want = pipe.generate(prompts,
          GenerationConfig.fromPretrained(model).maxNewTokens(10).build(), null);
      for (int i = 0; i < prompts.size(); i++) {
        assertTrue(want.get(i).generatedIds().length > 0);
        assertEquals(Arrays.toString(want.get(i).generatedIds()),
            scala.eval("generated.generations.get(" + i + ").generatedIds").toString());
        assertEquals(want.get(i).text(), scala.eval("generated.generations.get(" + i + ").text"));
      }
    }
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private static double local(TextMetric metric, List<String[]> rows) {
    Serializable state = metric.newState();
    for (String[] r : rows) {
      metric.add(state, r[0], List.of(r[1]));
    }
    return ((Number) metric.compute(state).asMap().get("score")).doubleValue();
  }
}
