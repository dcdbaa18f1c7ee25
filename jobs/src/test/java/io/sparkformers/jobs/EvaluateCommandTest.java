package io.sparkformers.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code sparkformers evaluate}: values equal to the reference tools, and every bad-input path. */
class EvaluateCommandTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path dir;
  private StringWriter out;
  private StringWriter err;

  private int run(String... args) {
    out = new StringWriter();
    err = new StringWriter();
    CommandLine cli = SparkformersCommand.commandLine();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    return cli.execute(args);
  }

  private Path resource(String name) throws IOException {
    Path p = dir.resolve(name);
    try (InputStream in = getClass().getResourceAsStream("/evaluate/" + name)) {
      Files.copy(in, p, StandardCopyOption.REPLACE_EXISTING);
    }
    return p;
  }

  private Path write(String name, String content) throws IOException {
    return Files.writeString(dir.resolve(name), content);
  }

  @Test
  void textMetricsEqualSacrebleuAndRougeScore() throws IOException {
    Path input = resource("some_empty.jsonl");
    assertEquals(0, run("evaluate", "--input", input.toString(), "--metrics", "bleu,chrf,rouge", "--use-stemmer"), err.toString());
    JsonNode r = JSON.readTree(out.toString());
    assertEquals(54.45434683706466, r.get("bleu").get("score").asDouble(), 1e-9);
    assertEquals("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0", r.get("bleu").get("signature").asText());
    assertEquals(2733, r.get("bleu").get("sys_len").asLong());
    assertEquals(3260, r.get("bleu").get("ref_len").asLong());
    assertEquals(4, r.get("bleu").get("counts").size());
    assertEquals(68.06545575977032, r.get("chrf").get("score").asDouble(), 1e-9);
    assertEquals(0.613777623570324, r.get("rouge").get("rougeLsum").get("fmeasure").asDouble(), 1e-9);
    assertEquals(0.610981311623772, r.get("rouge").get("rougeLsum").get("precision").asDouble(), 1e-9);

    assertEquals(0, run("evaluate", "--input", input.toString(), "--metrics", "bleu", "--tokenize", "intl"));
    assertEquals(54.56126326827106, JSON.readTree(out.toString()).get("bleu").get("score").asDouble(), 1e-9);
  }

  @Test
  void sparkGivesTheSameNumbers() throws IOException {
    Path input = resource("some_empty.jsonl");
    assertEquals(0, run("evaluate", "--input", input.toString(), "--metrics", "bleu,chrf++,rouge", "--spark", "local[2]"),
        err.toString());
    JsonNode spark = JSON.readTree(out.toString());
    assertEquals(0, run("evaluate", "--input", input.toString(), "--metrics", "bleu,chrf++,rouge"));
    JsonNode local = JSON.readTree(out.toString());
    assertEquals(local.get("bleu"), spark.get("bleu"));
    assertEquals(local.get("chrf++"), spark.get("chrf++"));
    assertEquals(local.get("rouge").get("rougeL").get("fmeasure").asDouble(),
        spark.get("rouge").get("rougeL").get("fmeasure").asDouble(), 1e-12);
  }

  @Test
  void labelMetricsEqualScikitLearn() throws IOException {
    Path input = resource("multiclass_string.jsonl");
    assertEquals(0, run("evaluate", "--input", input.toString(), "--metrics", "f1,accuracy", "--average", "none"), err.toString());
    JsonNode r = JSON.readTree(out.toString());
    double[] want = {0.7931034482758621, 0.7261146496815287, 0.7933333333333334, 0.06666666666666667,
        0.14285714285714288, 0.8102893890675241};
    for (int i = 0; i < want.length; i++) {
      assertEquals(want[i], r.get("f1").get(i).asDouble(), 1e-12);
    }
    assertEquals("capitalized", r.get("labels").get(0).asText());
    assertEquals(0.748, r.get("accuracy").asDouble(), 1e-12);
  }

  @Test
  void aReferenceToolsErrorIsExitOneWithItsMessage() throws IOException {
    Path input = resource("multiclass_string.jsonl");
    assertEquals(1, run("evaluate", "--input", input.toString(), "--metrics", "f1"));
    assertTrue(err.toString().contains("Target is multiclass but average='binary'"), err.toString());
    assertEquals("", out.toString());

    Path empty = write("empty.jsonl", "");
    assertEquals(1, run("evaluate", "--input", empty.toString(), "--metrics", "bleu"));
    assertTrue(err.toString().contains("empty corpus"), err.toString());
  }

  @Test
  void badLinesNameTheFileLineAndKey() throws IOException {
    Path p = write("bad.jsonl", "{\"prediction\": \"a\", \"references\": [\"a\"]}\n{\"prediction\": \"b\", \"references\": [\"b\", 3]}\n");
    assertEquals(1, run("evaluate", "--input", p.toString(), "--metrics", "bleu"));
    assertTrue(err.toString().contains(p + ":2: key 'references' item 1: expected a string, got number"), err.toString());

    Path json = write("json.jsonl", "{\"prediction\": \"a\", \"references\": [\"a\"]}\n{\"prediction\": \"b\" \"references\": []}\n");
    assertEquals(1, run("evaluate", "--input", json.toString(), "--metrics", "bleu"));
    assertTrue(err.toString().contains(json + ":2:20: not valid JSON"), err.toString());

    Path none = write("none.jsonl", "{\"prediction\": \"a\", \"references\": []}\n");
    assertEquals(1, run("evaluate", "--input", none.toString(), "--metrics", "chrf"));
    assertTrue(err.toString().contains(none + ":1: no references for this prediction"), err.toString());

    Path missing = write("missing.jsonl", "{\"prediction\": null, \"references\": [\"x\"]}\n");
    assertEquals(1, run("evaluate", "--input", missing.toString(), "--metrics", "rouge"));
    assertTrue(err.toString().contains(missing + ":1: prediction is null"), err.toString());

    Path label = write("label.jsonl", "{\"prediction\": 1}\n");
    assertEquals(1, run("evaluate", "--input", label.toString(), "--metrics", "accuracy"));
    assertTrue(err.toString().contains(label + ":1: missing key 'reference'"), err.toString());

    Path absent = dir.resolve("absent.jsonl");
    assertEquals(ExitCodes.INPUT_MISSING, run("evaluate", "--input", absent.toString(), "--metrics", "bleu"));
    assertTrue(err.toString().contains("sparkformers evaluate: --input: no such file " + absent), err.toString());

    Path mixed = write("mixed.jsonl", "{\"prediction\": 1, \"reference\": 1}\n{\"prediction\": \"1\", \"reference\": 1}\n");
    assertEquals(1, run("evaluate", "--input", mixed.toString(), "--metrics", "accuracy"));
    assertTrue(err.toString().contains(mixed + ":2: Mix of label input types"), err.toString());
  }

  @Test
  void skippedRowsAreCountedAndLeftOut() throws IOException {
    Path p = write("skip.jsonl", "{\"prediction\": \"the cat\", \"references\": [\"the cat\"]}\n"
        + "{\"prediction\": \"x\", \"references\": []}\n{\"prediction\": null, \"references\": [\"y\"]}\n");
    assertEquals(0, run("evaluate", "--input", p.toString(), "--metrics", "bleu", "--skip-bad-rows"), err.toString());
    JsonNode r = JSON.readTree(out.toString());
    assertEquals(2, r.get("skipped").asLong());
    assertEquals(2, r.get("bleu").get("sys_len").asLong());
  }

  @Test
  void unknownMetricOrOptionValueIsAUsageError() throws IOException {
    Path p = write("ok.jsonl", "{\"prediction\": \"a\", \"references\": [\"a\"]}\n");
    assertEquals(2, run("evaluate", "--input", p.toString(), "--metrics", "bleu,meteor"));
    assertTrue(err.toString().contains("Unknown metric(s) [meteor]"), err.toString());
    assertEquals(2, run("evaluate", "--input", p.toString(), "--tokenize", "moses"));
    assertTrue(err.toString().contains("tokenize 'moses'"), err.toString());
  }

  @Test
  void benchRunsOnASmallCorpus() {
    assertEquals(0, run("bench", "evaluate", "--pairs", "300", "--scale", "1", "--spark", "none", "--repeats", "1"),
        err.toString());
    assertTrue(out.toString().contains("data: 300 pairs"), out.toString());
    for (String m : new String[] {"bleu", "chrf", "rouge", "rouge_stem", "f1"}) {
      assertTrue(out.toString().contains("\n" + m + " "), out.toString());
    }
  }
}
