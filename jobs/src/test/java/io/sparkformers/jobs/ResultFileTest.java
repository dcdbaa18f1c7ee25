package io.sparkformers.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code --result-json}: one JSON object for a scheduler, written whole, on success and on failure. */
class ResultFileTest {
  @TempDir Path tmp;

  @SuppressWarnings("unchecked")
  private static Map<String, Object> read(Path file) throws IOException {
    return new ObjectMapper().readValue(file.toFile(), Map.class);
  }

  private static List<String> names(Path dir) throws IOException {
    try (var s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void aFailureIsWrittenWithItsCodeAndErrorLineAndNoTemporaryFileRemains() throws IOException {
    Path file = tmp.resolve("results/run.json");
    ResultFile r = new ResultFile("sparkformers train").put("output_dir", "out").put("model_dir", null);
    r.write(file.toString(), ExitCodes.INPUT_MISSING, new IllegalArgumentException("job.yaml: no file\n  more"),
        Map.of());
    Map<String, Object> json = read(file);
    assertEquals("failed", json.get("status"));
    assertEquals(3, json.get("exit_code"));
    assertEquals("sparkformers train", json.get("command"));
    assertEquals("out", json.get("output_dir"));
    assertFalse(json.containsKey("model_dir"));
    assertEquals("job.yaml: no file", json.get("error"));
    assertEquals(List.of("command", "duration_seconds", "error", "exit_code", "finished_at", "output_dir",
        "started_at", "status"), json.keySet().stream().sorted().toList());
    // Replaced whole on a second write; nothing else is left in the folder.
    new ResultFile("sparkformers train").write(file.toString(), ExitCodes.OK, null, Map.of());
    assertEquals("succeeded", read(file).get("status"));
    assertEquals(List.of("run.json"), names(file.getParent()));
  }

  @Test
  void theFileHasTheModeOfAnyFileThisProcessCreates() throws IOException {
    Path file = tmp.resolve("run.json");
    new ResultFile("x").write(file.toString(), ExitCodes.OK, null, Map.of());
    Path plain = Files.writeString(tmp.resolve("plain"), "x");
    assertEquals(Files.getPosixFilePermissions(plain), Files.getPosixFilePermissions(file));
  }

  @Test
  void hadoopUrisAreToldFromLocalPaths() {
    assertTrue(ResultFile.isHadoopUri("s3a://bucket/run.json"));
    assertTrue(ResultFile.isHadoopUri("hdfs://nn:8020/x.json"));
    assertFalse(ResultFile.isHadoopUri("/tmp/run.json"));
    assertFalse(ResultFile.isHadoopUri("file:///tmp/run.json"));
    assertFalse(ResultFile.isHadoopUri("results/run.json"));
  }

  private int run(StringWriter err, String... args) {
    CommandLine cli = SparkformersCommand.commandLine();
    cli.setErr(new PrintWriter(err));
    return cli.execute(args);
  }

  @Test
  @SuppressWarnings("unchecked")
  void aTrainJobWritesStatusMetricsAndPaths() throws IOException {
    Path out = tmp.resolve("qs");
    Path result = tmp.resolve("result.json");
    StringWriter err = new StringWriter();
    assertEquals(0, run(err, "quickstart", "--output", out.toString(), "--result-json", result.toString(),
        "--set", "max_steps=3", "--set", "save_strategy=no", "--set", "eval_strategy=no", "--set",
        "load_best_model_at_end=false", "--set", "disable_tqdm=true"), err.toString());
    Map<String, Object> json = read(result);
    assertEquals("succeeded", json.get("status"));
    assertEquals(0, json.get("exit_code"));
    assertEquals("sparkformers quickstart", json.get("command"));
    assertEquals(out.toString(), json.get("output_dir"));
    assertEquals(out + "/model", json.get("model_dir"));
    assertEquals(out + "/metrics.json", json.get("metrics_file"));
    Map<String, Object> metrics = (Map<String, Object>) json.get("metrics");
    assertEquals(3.0, ((Number) metrics.get("global_step")).doubleValue());
    assertEquals(read(out.resolve("metrics.json")).get("eval_accuracy"), metrics.get("eval_accuracy"));
    assertTrue(Files.isRegularFile(out.resolve("model/model.safetensors")));
  }

  @Test
  @SuppressWarnings("unchecked")
  void evaluateWritesItsMetricsOrItsError() throws IOException {
    Path input = Files.writeString(tmp.resolve("preds.jsonl"), "{\"prediction\": 1, \"reference\": 1}\n"
        + "{\"prediction\": 0, \"reference\": 1}\n");
    Path result = tmp.resolve("eval.json");
    StringWriter err = new StringWriter();
    assertEquals(0, run(err, "evaluate", "--input", input.toString(), "--metrics", "accuracy", "--result-json",
        result.toString()), err.toString());
    Map<String, Object> json = read(result);
    assertEquals("succeeded", json.get("status"));
    assertEquals(input.toString(), json.get("input"));
    assertEquals(0.5, ((Map<String, Object>) json.get("metrics")).get("accuracy"));
    Path missing = tmp.resolve("none.jsonl");
    assertEquals(ExitCodes.INPUT_MISSING, run(err, "evaluate", "--input", missing.toString(), "--metrics",
        "accuracy", "--result-json", result.toString()));
    json = read(result);
    assertEquals("failed", json.get("status"));
    assertEquals(3, json.get("exit_code"));
    assertEquals("--input: no such file " + missing, json.get("error"));
  }

  @Test
  void aJobThatFailsBeforeSparkStillWritesItsResult() throws IOException {
    Path result = tmp.resolve("result.json");
    Path missing = tmp.resolve("none.csv");
    StringWriter err = new StringWriter();
    assertEquals(ExitCodes.INPUT_MISSING, run(err, "train", "--config",
        Path.of("..", "conf", "tabular-classification.yaml").toString(), "--result-json", result.toString(),
        "--set", "data.train_file=" + missing, "--set", "training_args.output_dir=" + tmp.resolve("out")));
    Map<String, Object> json = read(result);
    assertEquals("failed", json.get("status"));
    assertEquals(3, json.get("exit_code"));
    assertEquals(Path.of("..", "conf", "tabular-classification.yaml") + ": key 'data.train_file': No file found at "
        + missing, json.get("error"));
    assertEquals(tmp.resolve("out").toString(), json.get("output_dir"));
    // A usage error: the job file never loaded, so only the command and the error are known.
    assertEquals(ExitCodes.USAGE, run(err, "train", "--config", Path.of("..", "conf", "quickstart.yaml").toString(),
        "--result-json", result.toString(), "--set", "foo"));
    json = read(result);
    assertEquals(2, json.get("exit_code"));
    assertEquals("--set foo: expected key=value", json.get("error"));
    assertFalse(json.containsKey("output_dir"));
  }
}
