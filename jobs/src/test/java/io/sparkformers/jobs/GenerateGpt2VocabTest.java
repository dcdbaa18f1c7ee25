package io.sparkformers.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.engine.Engine;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.sparkformers.datasets.AutoTokenizer;
import io.sparkformers.datasets.Tokenizer;
import io.sparkformers.training.models.AutoModel;
import io.sparkformers.training.models.PreTrainedModel;
import io.sparkformers.training.models.gpt2.Gpt2Config;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code generate} and {@code score} with {"prompt": ...} on a small random GPT-2 whose folder has GPT-2's real
 * vocab.json + merges.txt and no tokenizer.json (the files are datasets-arrow's test copies, see the README
 * in datasets-arrow/src/test/resources).
 */
class GenerateGpt2VocabTest {
  @TempDir Path tmp;

  private static Path gpt2VocabCopy() {
    Path dir = Path.of("..", "datasets-arrow", "src", "test", "resources", "gpt2-vocab");
    if (!Files.isDirectory(dir)) {
      throw new IllegalStateException("GPT-2 vocabulary test files not found at " + dir.toAbsolutePath());
    }
    return dir;
  }

  private String[] run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cli = SparkformersCommand.commandLine();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    int code = cli.execute(args);
    assertEquals(0, code, err.toString());
    return out.toString().trim().split("\n");
  }

  @Test
  void promptsGoThroughTheGpt2VocabularyAndGeneratedTextDecodes() throws Exception {
    Path model = tmp.resolve("gpt2-random");
    Engine.getEngine("PyTorch").setRandomSeed(7);
    Gpt2Config config = Gpt2Config.builder().vocabSize(50257).nPositions(32).nEmbd(16).nLayer(1).nHead(2).build();
    try (PreTrainedModel m = AutoModel.fromConfig(config)) {
      m.savePretrained(model);
    }
    for (String name : List.of("vocab.json", "merges.txt")) {
      try (InputStream in = new GZIPInputStream(Files.newInputStream(gpt2VocabCopy().resolve(name + ".gz")))) {
        Files.write(model.resolve(name), in.readAllBytes());
      }
    }
    Path input = tmp.resolve("in.jsonl");
    // "Hello world" is [15496, 995] in GPT-2's vocabulary: the text and the ids must continue the same way.
    Files.write(input, List.of("{\"prompt\": \"Hello world\"}", "{\"input_ids\": [15496, 995]}",
        "{\"prompt\": \"naïve café 🙂\"}"));
    String[] lines = run("generate", "--model", model.toString(), "--input", input.toString(), "--max-new-tokens",
        "6");
    assertEquals(3, lines.length);
    JsonObject fromText = JsonParser.parseString(lines[0]).getAsJsonObject();
    JsonObject fromIds = JsonParser.parseString(lines[1]).getAsJsonObject();
    assertEquals(fromIds.get("generated_ids"), fromText.get("generated_ids"));
    try (Tokenizer t = AutoTokenizer.fromPretrained(model)) {
      for (String line : lines) {
        JsonObject row = JsonParser.parseString(line).getAsJsonObject();
        int[] ids = new com.google.gson.Gson().fromJson(row.get("generated_ids"), int[].class);
        assertEquals(6, ids.length);
        assertEquals(t.decode(ids, true), row.get("generated_text").getAsString());
      }
    }
    assertEquals(EXPECTED_IDS, fromText.get("generated_ids").toString());
    assertEquals(EXPECTED_TEXT, fromText.get("generated_text").getAsString());

    // Seeded sampling gives varied tokens, which decode as the vocabulary says.
    Path one = tmp.resolve("one.jsonl");
    Files.write(one, List.of("{\"prompt\": \"Hello world\"}"));
    String[] sampled = run("generate", "--model", model.toString(), "--input", one.toString(), "--max-new-tokens",
        "8", "--do-sample", "--seed", "11");
    JsonObject row = JsonParser.parseString(sampled[0]).getAsJsonObject();
    assertEquals(SAMPLED_IDS, row.get("generated_ids").toString());
    try (Tokenizer t = AutoTokenizer.fromPretrained(model)) {
      int[] ids = new com.google.gson.Gson().fromJson(row.get("generated_ids"), int[].class);
      assertEquals(t.decode(ids, true), row.get("generated_text").getAsString());
      assertEquals(SAMPLED_TEXT, row.get("generated_text").getAsString());
    }

    // score counts the predicted tokens of the encoded text: "naïve café 🙂" is 4 GPT-2 tokens, 3 predicted.
    String[] scored = run("score", "--model", model.toString(), "--input", input.toString());
    assertEquals(3, JsonParser.parseString(scored[2]).getAsJsonObject().get("tokens").getAsInt());
    assertEquals(1, JsonParser.parseString(scored[0]).getAsJsonObject().get("tokens").getAsInt());
  }

  /** Greedy on this random model repeats one token; the reference decoder gives its text. */
  static final String EXPECTED_IDS = "[29544,29544,29544,29544,29544,29544]";
  static final String EXPECTED_TEXT = " Experiment Experiment Experiment Experiment Experiment Experiment";
  static final String SAMPLED_IDS = "[19357,15012,34335,30170,2431,27903,4727,36256]";
  /** What the reference GPT-2 decoder (gpt-3-encoder's decode) gives for SAMPLED_IDS. */
  static final String SAMPLED_TEXT = " Poison heritage contag discouraged minutesbetter explain Slack";
}
