package io.sparkformers.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class GenerateCommandTest {
  static final String GREEDY0 = "[110,165,26,221,898,221,213,165,110,221]";
  static final String GREEDY1 = "[268,408,165,327,279,451,165,760,279,408]";
  @TempDir Path tmp;
  Path modelDir;
  final StringWriter out = new StringWriter();
  final StringWriter err = new StringWriter();

  /** A copy of gpt2-tiny with a word-level tokenizer.json: "w<id>" is token id, 999 is <|endoftext|>. */
  static Path tinyModelWithTokenizer(Path tmp) throws Exception {
    Path dir = tmp.resolve("gpt2-tiny");
    Files.createDirectories(dir);
    Path src;
    try {
      src = Paths.get(GenerateCommandTest.class.getResource("/models/gpt2-tiny").toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
    Files.copy(src.resolve("config.json"), dir.resolve("config.json"));
    Files.copy(src.resolve("model.safetensors"), dir.resolve("model.safetensors"));
    StringBuilder vocab = new StringBuilder();
    for (int i = 0; i < 999; i++) {
      vocab.append('"').append('w').append(i).append("\":").append(i).append(',');
    }
    vocab.append("\"<|endoftext|>\":999");
    Files.writeString(dir.resolve("tokenizer.json"), "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,"
        + "\"added_tokens\":[{\"id\":999,\"content\":\"<|endoftext|>\",\"single_word\":false,\"lstrip\":false,"
        + "\"rstrip\":false,\"normalized\":false,\"special\":true}],\"normalizer\":null,"
        + "\"pre_tokenizer\":{\"type\":\"Whitespace\"},\"post_processor\":null,\"decoder\":null,"
        + "\"model\":{\"type\":\"WordLevel\",\"vocab\":{" + vocab + "},\"unk_token\":\"<|endoftext|>\"}}");
    return dir;
  }

  @BeforeEach
  void setUp() throws Exception {
    modelDir = tinyModelWithTokenizer(tmp);
  }

  private int run(String... args) {
    CommandLine cli = SparkformersCommand.commandLine();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    return cli.execute(args);
  }

  private Path input(String... lines) throws Exception {
    Path file = Files.createTempFile(tmp, "in", ".jsonl");
    Files.write(file, List.of(lines));
    return file;
  }

  @Test
  void greedyFromIdsAndTextMatchesPyTorchsTokens() throws Exception {
    Path in = input("{\"input_ids\":[165,26,221,213,605],\"id\":\"a\"}", "",
        "{\"prompt\":\"w202 w746 w165 w798 w224 w983 w327 w245\"}");
    Path result = tmp.resolve("out.jsonl");
    assertEquals(0, run("generate", "--model", modelDir.toString(), "--input", in.toString(),
        "--max-new-tokens", "10", "--output", result.toString()), err.toString());
    List<String> lines = Files.readAllLines(result);
    assertEquals(2, lines.size());
    JsonObject first = JsonParser.parseString(lines.get(0)).getAsJsonObject();
    assertEquals("a", first.get("id").getAsString());
    assertEquals(GREEDY0, first.get("generated_ids").toString());
    assertEquals("w110 w165 w26 w221 w898 w221 w213 w165 w110 w221", first.get("generated_text").getAsString());
    JsonObject second = JsonParser.parseString(lines.get(1)).getAsJsonObject();
    assertEquals(GREEDY1, second.get("generated_ids").toString());
    // One prompt per batch gives the same tokens as the left-padded batch of two.
    assertEquals(0, run("generate", "--model", modelDir.toString(), "--input", in.toString(),
        "--max-new-tokens", "10", "--batch-size", "1", "--no-cache"), err.toString());
    assertTrue(out.toString().contains("\"generated_ids\":" + GREEDY0), out.toString());
    assertTrue(out.toString().contains("\"generated_ids\":" + GREEDY1), out.toString());
  }

  @Test
  void messagesAreRenderedWithTheFoldersChatTemplate() throws Exception {
    // The contents space-separated, then the generation prompt w605: the ids of PyTorch's greedy prompt 0.
    Files.writeString(modelDir.resolve("tokenizer_config.json"), "{\"chat_template\": \"{% for m in messages %}"
        + "{{ m['content'] }}{% if not loop.last %} {% endif %}{% endfor %}"
        + "{% if add_generation_prompt %} w605{% endif %}\"}");
    Path in = input("{\"messages\":[{\"role\":\"user\",\"content\":\"w165 w26 w221\"},"
        + "{\"role\":\"assistant\",\"content\":\"w213\"}]}");
    assertEquals(0, run("generate", "--model", modelDir.toString(), "--input", in.toString(),
        "--max-new-tokens", "10"), err.toString());
    JsonObject line = JsonParser.parseString(out.toString().trim()).getAsJsonObject();
    assertEquals(GREEDY0, line.get("generated_ids").toString());
    assertEquals("w110 w165 w26 w221 w898 w221 w213 w165 w110 w221", line.get("text").getAsString());

    Files.writeString(modelDir.resolve("tokenizer_config.json"), "{\"chat_template\": \"{{ raise_exception("
        + "'only user turns') }}\"}");
    String m = failure(modelDir, "{\"messages\":[{\"role\":\"user\",\"content\":\"w1\"}]}");
    assertTrue(m.contains("line 1: the chat template rejects the conversation: only user turns"), m);
    Files.delete(modelDir.resolve("tokenizer_config.json"));
    m = failure(modelDir, "{\"messages\":[{\"role\":\"user\",\"content\":\"w1\"}]}");
    assertTrue(m.contains("line 1: \"messages\" needs a chat template, but"), m);
  }

  @Test
  void seededSamplingRepeats() throws Exception {
    Path in = input("{\"input_ids\":[165,26,221,213,605,110,165,26]}");
    String[] args = {"generate", "--model", modelDir.toString(), "--input", in.toString(), "--do-sample",
        "--temperature", "0.7", "--top-k", "50", "--top-p", "0.9", "--repetition-penalty", "1.3", "--seed", "3",
        "--max-new-tokens", "8"};
    assertEquals(0, run(args), err.toString());
    String once = out.toString();
    out.getBuffer().setLength(0);
    assertEquals(0, run(args), err.toString());
    assertEquals(once, out.toString());
    assertEquals(8, JsonParser.parseString(once.trim()).getAsJsonObject().getAsJsonArray("generated_ids").size());
  }

  private String failure(Path model, String... lines) throws Exception {
    Path in = input(lines);
    assertEquals(1, run("generate", "--model", model.toString(), "--input", in.toString(), "--max-new-tokens",
        "10"));
    return err.toString();
  }

  @Test
  void badInputIsNamedByFileLineAndKey() throws Exception {
    String m = failure(modelDir, "{\"input_ids\":[1,2]}", "{\"input_ids\":[1,2");
    assertTrue(m.contains(".jsonl line 2: not valid JSON"), m);
    m = failure(modelDir, "{\"text\":\"hello\"}");
    assertTrue(m.contains("line 1: expected a key \"prompt\" (text) or \"input_ids\""), m);
    m = failure(modelDir, "{\"input_ids\":[1,\"x\"]}");
    assertTrue(m.contains("line 1: \"input_ids\"[1] must be a non-negative integer"), m);
    m = failure(modelDir, "{\"input_ids\":[1,2000]}");
    assertTrue(m.contains("line 1: token 1 is id 2000, outside the model's vocabulary [0, 1000)"), m);
    m = failure(modelDir, "{\"input_ids\":[1]}", "{\"input_ids\":[" + "5,".repeat(39) + "5]}");
    assertTrue(m.contains("line 2: the prompt has 40 tokens; with 10 new tokens that exceeds the model's context"
        + " (n_positions 48)"), m);
    Files.delete(modelDir.resolve("tokenizer.json"));
    m = failure(modelDir, "{\"prompt\":\"w1 w2\"}");
    assertTrue(m.contains("line 1: \"prompt\" needs a tokenizer") && m.contains("tokenizer.json"), m);
    Files.writeString(modelDir.resolve("config.json"), "{\"model_type\":\"mlp\",\"input_size\":2,\"num_labels\":2}");
    m = failure(modelDir, "{\"input_ids\":[1]}");
    assertTrue(m.contains("config.json") && m.contains("unexpected keys"), m);
    Path mlp = tmp.resolve("mlp");
    try (var model = io.sparkformers.training.models.AutoModel.fromConfig(
        io.sparkformers.training.models.mlp.MlpConfig.builder().inputSize(2).numLabels(2).build())) {
      model.savePretrained(mlp);
    }
    m = failure(mlp, "{\"input_ids\":[1]}");
    assertTrue(m.contains("model_type 'mlp' is not a causal language model"), m);
  }

  @Test
  void tokenTypeIdsReachTheModelAsInTransformersGenerate() throws Exception {
    int[] p0 = {165, 26, 221, 213, 605};
    int[] t0 = {3, 3, 3, 9, 9};
    int[] p1 = {5, 6, 7};
    int[] t1 = {1, 1, 2};
    List<int[]> expected;
    try (var model = (io.sparkformers.training.models.gpt2.Gpt2LMHeadModel)
        io.sparkformers.training.models.AutoModel.fromPretrained(modelDir)) {
      expected = model.generate(List.of(p0, p1), List.of(t0, t1),
          io.sparkformers.training.models.GenerationConfig.greedy(6), null);
    }
    Path in = input("{\"input_ids\":[165,26,221,213,605],\"token_type_ids\":[3,3,3,9,9]}",
        "{\"input_ids\":[5,6,7],\"token_type_ids\":[1,1,2]}");
    assertEquals(0, run("generate", "--model", modelDir.toString(), "--input", in.toString(), "--max-new-tokens",
        "6"), err.toString());
    String[] lines = out.toString().trim().split("\n");
    assertEquals(java.util.Arrays.toString(expected.get(0)).replace(" ", ""),
        JsonParser.parseString(lines[0]).getAsJsonObject().get("generated_ids").toString());
    assertEquals(java.util.Arrays.toString(expected.get(1)).replace(" ", ""),
        JsonParser.parseString(lines[1]).getAsJsonObject().get("generated_ids").toString());

    String m = failure(modelDir, "{\"input_ids\":[1,2],\"token_type_ids\":[0]}");
    assertTrue(m.contains("line 1: \"token_type_ids\" has 1 ids, expected one per prompt token (2)"), m);
    m = failure(modelDir, "{\"input_ids\":[1,2],\"token_type_ids\":[0,0]}", "{\"input_ids\":[1]}");
    assertTrue(m.contains("line 2: \"token_type_ids\" must be on every line or on none (line 1 has them)"), m);
    m = failure(modelDir, "{\"input_ids\":[1,2],\"token_type_ids\":[0,1000]}");
    assertTrue(m.contains("line 1: token_type_ids 1 is 1000, outside the model's vocabulary [0, 1000)"), m);
  }
}
