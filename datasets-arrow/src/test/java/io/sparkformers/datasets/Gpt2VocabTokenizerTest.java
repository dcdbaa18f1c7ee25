package io.sparkformers.datasets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A folder with only GPT-2's vocab.json + merges.txt (the real 50,257-token files) loads through AutoTokenizer
 * and encodes exactly as the reference GPT-2 encoder does (ids in src/test/resources/gpt2-vocab, see README).
 */
class Gpt2VocabTokenizerTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir static Path shared;
  static Path gpt2;

  /** Writes the real GPT-2 vocab.json and merges.txt (ungzipped) into {@code folder}. */
  static void writeGpt2Vocab(Path folder) throws IOException {
    Files.createDirectories(folder);
    for (String name : List.of("vocab.json", "merges.txt")) {
      try (InputStream in = new GZIPInputStream(
          Gpt2VocabTokenizerTest.class.getResourceAsStream("/gpt2-vocab/" + name + ".gz"))) {
        Files.write(folder.resolve(name), in.readAllBytes());
      }
    }
  }

  @BeforeAll
  static void folder() throws IOException {
    gpt2 = shared.resolve("gpt2");
    writeGpt2Vocab(gpt2);
  }

  @Test
  void encodesAsTheReferenceGpt2EncoderOnVariedText() throws IOException {
    List<String> lines;
    try (InputStream in = getClass().getResourceAsStream("/gpt2-vocab/expected_ids.jsonl")) {
      lines = new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList();
    }
    assertEquals(24, lines.size());
    int tokens = 0;
    try (Tokenizer t = AutoTokenizer.fromPretrained(gpt2)) {
      assertEquals(50257, t.vocabSize());
      assertEquals(50256, t.eosTokenId());
      assertEquals(50256, t.bosTokenId());
      assertEquals(null, t.padTokenId());
      for (String line : lines) {
        JsonNode row = JSON.readTree(line);
        String text = row.get("text").asText();
        int[] expected = JSON.convertValue(row.get("ids"), int[].class);
        Tokenizer.Encoded e = t.encode(text);
        assertArrayEquals(expected, e.inputIds(), () -> "ids of " + text);
        assertEquals(text, t.decode(e.inputIds(), false), () -> "decoded " + text);
        tokens += expected.length;
      }
      // A few ids everyone knows: "Hello" 15496, " world" 995, <|endoftext|> 50256 as one special token.
      assertArrayEquals(new int[] {15496, 995}, t.encode("Hello world").inputIds());
      assertArrayEquals(new int[] {15496, 50256}, t.encode("Hello<|endoftext|>").inputIds());
      assertEquals("Hello", t.decode(new int[] {15496, 50256}, true));
      assertEquals(List.of("Hello", "Ġworld", "!"), t.tokenize("Hello world!"));
      // As in transformers (not the raw encoder), <|endoftext|> in a text is the special token.
      int[] rest = t.encode(" is just text here").inputIds();
      int[] withSpecial = t.encode("<|endoftext|> is just text here").inputIds();
      assertEquals(50256, withSpecial[0]);
      assertArrayEquals(rest, java.util.Arrays.copyOfRange(withSpecial, 1, withSpecial.length));
    }
    assertEquals(539, tokens);
  }

  @Test
  void tokenizerConfigSetsSpecialTokensPrefixSpaceAndBos() throws IOException {
    Path folder = shared.resolve("configured");
    writeGpt2Vocab(folder);
    Files.writeString(folder.resolve("tokenizer_config.json"), "{\"add_prefix_space\": true, \"add_bos_token\": true,"
        + " \"pad_token\": \"<|endoftext|>\", \"padding_side\": \"left\", \"model_max_length\": 1024}");
    try (Tokenizer t = AutoTokenizer.fromPretrained(folder); Tokenizer plain = AutoTokenizer.fromPretrained(gpt2)) {
      // add_prefix_space: "Hello" is encoded as " Hello" (18435); add_bos_token puts <|endoftext|> first.
      assertArrayEquals(new int[] {50256, 18435, 995}, t.encode("Hello world").inputIds());
      assertEquals(50256, t.padTokenId());
      assertEquals(Padding.Side.LEFT, t.paddingSide());
      assertEquals(1024, t.modelMaxLength());
      assertNotEquals(plain.fingerprint(), t.fingerprint());
    }
    assertTrue(AutoTokenizer.isPresentIn(folder));
    assertFalse(AutoTokenizer.isPresentIn(shared));
  }

  @Test
  void badVocabularyFilesNameTheFileAndLine() throws IOException {
    Path noMerges = shared.resolve("no-merges");
    Files.createDirectories(noMerges);
    Files.writeString(noMerges.resolve("vocab.json"), "{\"a\": 0}");
    IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
        () -> AutoTokenizer.fromPretrained(noMerges));
    assertEquals(noMerges + " has no tokenizer.json (nor GPT-2's vocab.json + merges.txt)", missing.getMessage());

    Path badId = shared.resolve("bad-id");
    Files.createDirectories(badId);
    Files.writeString(badId.resolve("vocab.json"), "{\"a\": 0, \"b\": \"one\"}");
    Files.writeString(badId.resolve("merges.txt"), "#version: 0.2\n");
    assertEquals(badId.resolve("vocab.json") + ": token 'b' has id \"one\", expected a non-negative integer",
        assertThrows(IllegalArgumentException.class, () -> AutoTokenizer.fromPretrained(badId)).getMessage());

    Path notJson = shared.resolve("not-json");
    Files.createDirectories(notJson);
    Files.writeString(notJson.resolve("vocab.json"), "{\"a\": 0,\n \"b\" 1}");
    Files.writeString(notJson.resolve("merges.txt"), "#version: 0.2\n");
    String notJsonMessage = assertThrows(IllegalArgumentException.class,
        () -> AutoTokenizer.fromPretrained(notJson)).getMessage();
    assertTrue(notJsonMessage.startsWith(notJson.resolve("vocab.json") + ": not valid JSON (line 2, column 6)"),
        notJsonMessage);

    Path badMerge = shared.resolve("bad-merge");
    Files.createDirectories(badMerge);
    Files.writeString(badMerge.resolve("vocab.json"), "{\"a\": 0, \"b\": 1, \"ab\": 2, \"<|endoftext|>\": 3}");
    Files.writeString(badMerge.resolve("merges.txt"), "#version: 0.2\na b\nab\n");
    assertEquals(badMerge.resolve("merges.txt") + " line 3: expected two tokens separated by a space, found 'ab'",
        assertThrows(IllegalArgumentException.class, () -> AutoTokenizer.fromPretrained(badMerge)).getMessage());
    Files.writeString(badMerge.resolve("merges.txt"), "#version: 0.2\na b\nab c\n");
    assertEquals(badMerge.resolve("merges.txt") + " line 3: the merge 'ab c' uses or makes 'c', which is not in"
        + " vocab.json",
        assertThrows(IllegalArgumentException.class, () -> AutoTokenizer.fromPretrained(badMerge)).getMessage());

    // A vocabulary without GPT-2's <|endoftext|> needs its special tokens named in tokenizer_config.json.
    Files.writeString(badMerge.resolve("merges.txt"), "#version: 0.2\na b\n");
    Files.writeString(badMerge.resolve("vocab.json"), "{\"a\": 0, \"b\": 1, \"ab\": 2, \"<s>\": 3}");
    assertEquals(badMerge.resolve("vocab.json") + ": the special token '<|endoftext|>' is not in the vocabulary",
        assertThrows(IllegalArgumentException.class, () -> AutoTokenizer.fromPretrained(badMerge)).getMessage());
    Files.writeString(badMerge.resolve("tokenizer_config.json"), "{\"bos_token\": \"<s>\", \"eos_token\": \"<s>\","
        + " \"unk_token\": \"<s>\"}");
    try (Tokenizer t = AutoTokenizer.fromPretrained(badMerge)) {
      assertArrayEquals(new int[] {2, 0}, t.encode("aba").inputIds());
      assertEquals(3, t.eosTokenId());
    }
    // GPT2Tokenizer drops whatever follows the last newline: a file without one loses its last merge.
    Files.writeString(badMerge.resolve("merges.txt"), "#version: 0.2\na b");
    try (Tokenizer t = AutoTokenizer.fromPretrained(badMerge)) {
      assertArrayEquals(new int[] {0, 1, 0}, t.encode("aba").inputIds());
    }
  }
}
