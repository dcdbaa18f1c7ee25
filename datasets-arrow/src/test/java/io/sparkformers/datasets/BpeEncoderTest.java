package io.sparkformers.datasets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sparkformers.datasets.internal.ByteLevel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** BPE-dropout over the tokenizers library's own byte-level BPE (trained on the reference corpus). */
class BpeEncoderTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path dir;

  private Path reference() throws IOException {
    Path folder = dir.resolve("bpe");
    Files.createDirectories(folder);
    Path file = folder.resolve("tokenizer.json");
    Files.writeString(file, TokenizerTrainingReferenceTest.resource("bytelevel_bpe.json"));
    return file;
  }

  private static List<String> testStrings() throws IOException {
    List<String> out = new ArrayList<>();
    JSON.readTree(TokenizerTrainingReferenceTest.resource("results.json")).path("test_strings")
        .forEach(s -> out.add(s.asText()));
    return out;
  }

  @Test
  void withoutDropoutItGivesTheLibrarysIds() throws IOException {
    JsonNode expected = JSON.readTree(TokenizerTrainingReferenceTest.resource("results.json")).path("bytelevel_bpe");
    BpeEncoder encoder = BpeEncoder.load(reference());
    assertEquals(0.0, encoder.dropout());
    List<String> strings = testStrings();
    for (int i = 0; i < strings.size(); i++) {
      assertArrayEquals(JSON.convertValue(expected.get(i), int[].class), encoder.encode(strings.get(i)),
          strings.get(i));
    }
    assertArrayEquals(new int[] {87, 0, 87}, encoder.encode("w<|endoftext|>w"));
  }

  @Test
  void dropoutSkipsMergesReproduciblyBySeed() throws IOException {
    Path file = reference();
    List<String> strings = testStrings();
    BpeEncoder plain = BpeEncoder.load(file);
    JsonNode vocab = JSON.readTree(file.toFile()).path("model").path("vocab");
    try (Tokenizer library = AutoTokenizer.fromPretrained(file.getParent())) {
      // Every merge skipped: one token per byte.
      BpeEncoder all = plain.withDropout(1.0, 1);
      for (String s : strings) {
        int[] bytes = ByteLevel.preTokenize(s).stream()
            .flatMapToInt(w -> w.chars().map(c -> vocab.path(String.valueOf((char) c)).asInt(-1))).toArray();
        assertArrayEquals(bytes, all.encode(s), s);
      }
      BpeEncoder a = plain.withDropout(0.3, 42);
      BpeEncoder b = plain.withDropout(0.3, 42);
      BpeEncoder c = plain.withDropout(0.3, 43);
      int plainTokens = 0;
      int dropoutTokens = 0;
      boolean seedsDiffer = false;
      for (String s : strings) {
        int[] ids = a.encode(s);
        assertArrayEquals(ids, b.encode(s), s);
        seedsDiffer |= !Arrays.equals(ids, c.encode(s));
        assertEquals(s, library.decode(ids, false), "dropout keeps the text");
        int[] none = plain.encode(s);
        assertTrue(ids.length >= none.length, s);
        plainTokens += none.length;
        dropoutTokens += ids.length;
      }
      assertTrue(dropoutTokens > plainTokens, dropoutTokens + " vs " + plainTokens);
      assertTrue(seedsDiffer);
    }
    // A tokenizer.json's own dropout applies.
    ObjectNode root = (ObjectNode) JSON.readTree(file.toFile());
    ((ObjectNode) root.get("model")).put("dropout", 1.0);
    Path withDropout = dir.resolve("dropout.json");
    JSON.writeValue(withDropout.toFile(), root);
    BpeEncoder fromFile = BpeEncoder.load(withDropout);
    assertEquals(1.0, fromFile.dropout());
    assertEquals(3, fromFile.encode("the").length);
    assertFalse(Arrays.equals(fromFile.encode("the"), plain.encode("the")));
    assertThrows(IllegalArgumentException.class, () -> plain.withDropout(1.5, 0));
  }
}
