package io.sparkformers.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class TokenizerCommandTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  /** The tokenizers library's reference corpus and results (see datasets-arrow's test resources README). */
  private static final Path REFERENCE = Path.of("..", "datasets-arrow", "src", "test", "resources",
      "tokenizer-training");
  @TempDir Path dir;
  private StringWriter out = new StringWriter();
  private StringWriter err = new StringWriter();

  private int run(String... args) {
    out = new StringWriter();
    err = new StringWriter();
    CommandLine cli = SparkformersCommand.commandLine();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    return cli.execute(args);
  }

  @Test
  void trainsAndEncodesAsTheTokenizersLibrary() throws IOException {
    JsonNode results = JSON.readTree(REFERENCE.resolve("results.json").toFile());
    Path texts = dir.resolve("texts.jsonl");
    StringBuilder lines = new StringBuilder();
    for (JsonNode s : results.path("test_strings")) {
      lines.append(JSON.writeValueAsString(JSON.createObjectNode().set("text", s))).append("\n\n");
    }
    Files.writeString(texts, lines);
    String[][] cases = {
        {"bytelevel-bpe", "400", "bytelevel_bpe", "--min-frequency", "2", "--special-tokens", "<|endoftext|>"},
        {"unigram", "300", "unigram", "--special-tokens", "<unk>,<s>,</s>"}};
    for (String[] c : cases) {
      Path tokenizer = dir.resolve(c[2] + ".json");
      List<String> args = new ArrayList<>(List.of("tokenizer", "train", "--type", c[0], "--vocab-size", c[1],
          "--input", REFERENCE.resolve("corpus.txt").toString(), "--output", tokenizer.toString()));
      args.addAll(List.of(c).subList(3, c.length));
      assertEquals(0, run(args.toArray(new String[0])), err.toString());
      assertEquals("Wrote a " + c[0] + " tokenizer of " + c[1] + " tokens, trained on 3000 lines, to " + tokenizer
          + "\n", out.toString());

      assertEquals(0, run("tokenizer", "encode", "--tokenizer", tokenizer.toString(), "--input", texts.toString()),
          err.toString());
      String[] encoded = out.toString().split("\n");
      JsonNode expected = results.path(c[2]);
      assertEquals(expected.size(), encoded.length);
      int same = 0;
      for (int i = 0; i < encoded.length; i++) {
        same += JSON.readTree(encoded[i]).path("ids").equals(expected.get(i)) ? 1 : 0;
      }
      // Unigram: "Hello, WORLD!!" uses two characters the library orders by a random hash.
      assertEquals(c[0].equals("unigram") ? 15 : 16, same, c[0]);
    }
  }

  @Test
  void usageErrorsExitTwoAndABadLineNamesTheFileAndLine() throws IOException {
    Path corpus = dir.resolve("corpus.txt");
    Files.writeString(corpus, "a b c\n");
    assertEquals(2, run("tokenizer", "train", "--type", "sentencepiece", "--vocab-size", "10", "--input",
        corpus.toString(), "--output", dir.resolve("t.json").toString()));
    assertTrue(err.toString().contains("--type must be bytelevel-bpe, wordpiece or unigram, got 'sentencepiece'"),
        err.toString());
    assertEquals(2, run("tokenizer", "train", "--type", "unigram", "--input", corpus.toString(), "--output",
        dir.resolve("t.json").toString()));
    assertTrue(err.toString().contains("Missing required option: '--vocab-size=N'"), err.toString());
    assertEquals(2, run("tokenizer"));
    assertEquals(2, run("tokenizer", "train", "--type", "wordpiece", "--vocab-size", "40", "--special-tokens", "[UNK]",
        "--input", corpus.toString(), "--output", dir.resolve("t.json").toString()));
    assertTrue(err.toString().contains("A WordPiece tokenizer needs the special token [PAD]"), err.toString());
    assertEquals(2, run("tokenizer", "train", "--type", "unigram", "--vocab-size", "40", "--min-frequency", "2",
        "--input", corpus.toString(), "--output", dir.resolve("t.json").toString()));

    Path tokenizer = dir.resolve("wordpiece.json");
    assertEquals(0, run("tokenizer", "train", "--type", "wordpiece", "--vocab-size", "40", "--input",
        corpus.toString(), "--output", tokenizer.toString()), err.toString());
    Path bad = dir.resolve("bad.jsonl");
    Files.writeString(bad, "{\"text\": \"a b\"}\n{\"txt\": \"c\"}\n");
    assertEquals(1, run("tokenizer", "encode", "--tokenizer", tokenizer.toString(), "--input", bad.toString()));
    assertEquals("sparkformers tokenizer encode: " + bad + ": line 2: expected an object with a string \"text\", got {\"txt\": \"c\"}\n",
        err.toString());
    Files.writeString(bad, "{\"text\": \"a b\"}\n{\"text\": \"c\"\n");
    assertEquals(1, run("tokenizer", "encode", "--tokenizer", tokenizer.toString(), "--input", bad.toString()));
    assertTrue(err.toString().startsWith("sparkformers tokenizer encode: " + bad + ": line 2: not JSON: "), err.toString());
    // The WordPiece preset lowercases ("a" is 5, after 5 special tokens) and adds [CLS] and [SEP] unless told not to.
    Files.writeString(bad, "{\"text\": \"A b\"}\n");
    assertEquals(0, run("tokenizer", "encode", "--tokenizer", tokenizer.toString(), "--input", bad.toString()));
    assertEquals("{\"ids\":[2,5,6,3]}\n", out.toString());
    assertEquals(0, run("tokenizer", "encode", "--tokenizer", tokenizer.toString(), "--input", bad.toString(),
        "--no-special-tokens"));
    assertEquals("{\"ids\":[5,6]}\n", out.toString());
  }
}
