package io.sparkformers.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class ScoreCommandTest {
  @TempDir Path tmp;

  @Test
  void perLineCrossEntropyAndFilePerplexityMatchPyTorch() throws Exception {
    Path model = GenerateCommandTest.tinyModelWithTokenizer(tmp);
    Path in = tmp.resolve("score.jsonl");
    Files.write(in, List.of("{\"input_ids\":[232,284,28,232,284,28,232,284,28,232,284,28]}",
        "{\"prompt\":\"w314 w778 w984 w314 w778 w984 w314\"}", "{\"input_ids\":[7]}"));
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cli = SparkformersCommand.commandLine();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    assertEquals(0, cli.execute("score", "--model", model.toString(), "--input", in.toString()), err.toString());
    String[] lines = out.toString().trim().split("\n");
    assertEquals(4, lines.length);
    JsonObject l1 = JsonParser.parseString(lines[0]).getAsJsonObject();
    JsonObject l2 = JsonParser.parseString(lines[1]).getAsJsonObject();
    JsonObject l3 = JsonParser.parseString(lines[2]).getAsJsonObject();
    // PyTorch (gpt2-tiny results.json): 4.715596675872803 and 5.473003387451172.
    assertEquals(4.715596675872803, l1.get("mean_cross_entropy").getAsDouble(), 1e-5);
    assertEquals(11, l1.get("tokens").getAsInt());
    assertEquals(5.473003387451172, l2.get("mean_cross_entropy").getAsDouble(), 1e-5);
    assertTrue(l3.get("mean_cross_entropy").isJsonNull());
    JsonObject summary = JsonParser.parseString(lines[3]).getAsJsonObject();
    assertEquals(17, summary.get("tokens").getAsInt());
    double expected = Math.exp((4.715596675872803 * 11 + 5.473003387451172 * 6) / 17);
    assertEquals(expected, summary.get("perplexity").getAsDouble(), 1e-4);

    Files.write(in, List.of("[1,2,3]"));
    err.getBuffer().setLength(0);
    assertEquals(1, cli.execute("score", "--model", model.toString(), "--input", in.toString()));
    assertTrue(err.toString().contains("score.jsonl line 1: expected a JSON object"), err.toString());
  }

  @Test
  void textLinesScoreAsThePromptLinesOfTheSameText() throws Exception {
    Path model = GenerateCommandTest.tinyModelWithTokenizer(tmp);
    Path in = tmp.resolve("texts.jsonl");
    Files.write(in, List.of("{\"text\":\"w314 w778 w984 w314 w778 w984 w314\"}", "{\"other\":1}"));
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cli = SparkformersCommand.commandLine();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    assertEquals(1, cli.execute("score", "--model", model.toString(), "--input", in.toString()));
    assertTrue(err.toString().contains("texts.jsonl line 2: expected a key \"text\" or \"prompt\" (text) or"
        + " \"input_ids\" (token ids), found keys [other]"), err.toString());
    Files.write(in, List.of("{\"text\":\"w314 w778 w984 w314 w778 w984 w314\"}"));
    assertEquals(0, cli.execute("score", "--model", model.toString(), "--input", in.toString()), err.toString());
    JsonObject line = JsonParser.parseString(out.toString().trim().split("\n")[0]).getAsJsonObject();
    // The same text as the prompt line of the test above: PyTorch's 5.473003387451172 (gpt2-tiny results.json).
    assertEquals(5.473003387451172, line.get("mean_cross_entropy").getAsDouble(), 1e-5);
  }
}
