package io.sparkformers.datasets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Trainers held against Hugging Face's tokenizers library 0.23: the same corpus and settings give the same
 * vocabulary, merges or scores, and the same ids for every test string (see test resources' README).
 */
class TokenizerTrainingReferenceTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  static List<String> corpus;
  static JsonNode results;
  @TempDir static Path shared;

  @BeforeAll
  static void readReference() throws IOException {
    corpus = new ArrayList<>(Arrays.asList(resource("corpus.txt").split("\n", -1)));
    if (corpus.get(corpus.size() - 1).isEmpty()) {
      corpus.remove(corpus.size() - 1);
    }
    results = JSON.readTree(resource("results.json"));
  }

  static String resource(String name) throws IOException {
    try (InputStream in = TokenizerTrainingReferenceTest.class.getResourceAsStream("/tokenizer-training/" + name)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  @Test
  void byteLevelBpeMatchesTheLibrary() throws IOException {
    Path folder = shared.resolve("bpe");
    TokenizerTrainer.byteLevelBpe().vocabSize(400).minFrequency(2).specialTokens(List.of("<|endoftext|>")).build()
        .train(corpus, folder);
    JsonNode expected = JSON.readTree(resource("bytelevel_bpe.json")).path("model");
    JsonNode actual = JSON.readTree(folder.resolve("tokenizer.json").toFile()).path("model");
    assertEquals(expected.path("vocab"), actual.path("vocab"));
    assertEquals(expected.path("merges"), actual.path("merges"));
    assertIds(folder, "bytelevel_bpe");
  }

  /**
   * The library numbers the "##" forms of the alphabet in the order it meets them while iterating a hash map of
   * words seeded at random per process, and breaks ties between equally frequent pairs by those ids: its ids
   * for "##x" tokens (and a tie or two among later merges) are one draw of that order, not reproducible. The
   * segmentation of every test string into tokens is the library's all the same.
   */
  @Test
  void wordPieceSplitsAsTheLibrary() throws IOException {
    Path folder = shared.resolve("wordpiece");
    TokenizerTrainer.wordPiece().vocabSize(300).minFrequency(2).build().train(corpus, folder);
    Path reference = shared.resolve("wordpiece-reference");
    java.nio.file.Files.createDirectories(reference);
    java.nio.file.Files.writeString(reference.resolve("tokenizer.json"), resource("wordpiece.json"));
    JsonNode strings = results.path("test_strings");
    try (Tokenizer ours = AutoTokenizer.fromPretrained(folder);
        Tokenizer library = AutoTokenizer.fromPretrained(reference)) {
      assertEquals(300, ours.vocabSize());
      int sameIds = 0;
      for (int i = 0; i < strings.size(); i++) {
        String text = strings.get(i).asText();
        assertEquals(library.tokenize(text), ours.tokenize(text), text);
        int[] expected = JSON.convertValue(results.path("wordpiece").get(i), int[].class);
        assertArrayEquals(expected, library.encode(text, 0, false).inputIds());
        sameIds += Arrays.equals(expected, ours.encode(text, 0, false).inputIds()) ? 1 : 0;
      }
      // The strings that use no "##" alphabet token nor a tied merge (whose ids depend on that order) match.
      assertEquals(13, sameIds);
    }
  }

  /**
   * Every piece and score as the library's. The characters the final model lost (kept with the lowest score plus
   * a growing penalty) come in the library's per-process random hash order, so only their set is the same; the
   * one test string that uses two of them gets other ids for those two, the same tokens.
   */
  @Test
  void unigramMatchesTheLibrary() throws IOException {
    Path folder = shared.resolve("unigram");
    TokenizerTrainer.unigram().vocabSize(300).specialTokens(List.of("<unk>", "<s>", "</s>")).unkToken("<unk>").build()
        .train(corpus, folder);
    JsonNode expected = JSON.readTree(resource("unigram.json"));
    JsonNode actual = JSON.readTree(folder.resolve("tokenizer.json").toFile());
    for (String node : List.of("added_tokens", "normalizer", "pre_tokenizer", "post_processor", "decoder")) {
      assertEquals(expected.path(node), actual.path(node), node);
    }
    assertEquals(0, actual.path("model").path("unk_id").asInt());
    JsonNode e = expected.path("model").path("vocab");
    JsonNode a = actual.path("model").path("vocab");
    assertEquals(300, a.size());
    double maxDifference = 0;
    java.util.Set<String> expectedTail = new java.util.HashSet<>();
    java.util.Set<String> actualTail = new java.util.HashSet<>();
    for (int i = 0; i < 300; i++) {
      maxDifference = Math.max(maxDifference, Math.abs(e.get(i).get(1).asDouble() - a.get(i).get(1).asDouble()));
      if (i < 265) {
        assertEquals(e.get(i).get(0).asText(), a.get(i).get(0).asText(), "piece " + i);
      } else {
        expectedTail.add(e.get(i).get(0).asText());
        actualTail.add(a.get(i).get(0).asText());
      }
    }
    assertEquals(expectedTail, actualTail);
    assertTrue(maxDifference < 1e-12, "scores differ by " + maxDifference);

    Path reference = shared.resolve("unigram-reference");
    java.nio.file.Files.createDirectories(reference);
    java.nio.file.Files.writeString(reference.resolve("tokenizer.json"), resource("unigram.json"));
    JsonNode strings = results.path("test_strings");
    int sameIds = 0;
    try (Tokenizer ours = AutoTokenizer.fromPretrained(folder);
        Tokenizer library = AutoTokenizer.fromPretrained(reference)) {
      for (int i = 0; i < strings.size(); i++) {
        String text = strings.get(i).asText();
        assertEquals(library.tokenize(text), ours.tokenize(text), text);
        int[] expectedIds = JSON.convertValue(results.path("unigram").get(i), int[].class);
        assertArrayEquals(expectedIds, library.encode(text, 0, false).inputIds());
        boolean same = Arrays.equals(expectedIds, ours.encode(text, 0, false).inputIds());
        sameIds += same ? 1 : 0;
        assertEquals(!text.equals("Hello, WORLD!!"), same, text);
      }
    }
    assertEquals(15, sameIds);
  }

  /** Encodes each test string without special tokens (the reference tokenizers add none) and compares ids. */
  static void assertIds(Path folder, String name) {
    JsonNode strings = results.path("test_strings");
    List<String> mismatches = new ArrayList<>();
    try (Tokenizer t = AutoTokenizer.fromPretrained(folder)) {
      for (int i = 0; i < strings.size(); i++) {
        String text = strings.get(i).asText();
        int[] ids = t.encode(text, 0, false).inputIds();
        int[] expected = JSON.convertValue(results.path(name).get(i), int[].class);
        if (!Arrays.equals(expected, ids)) {
          mismatches.add(i + " " + JSON.valueToTree(text) + ": expected " + Arrays.toString(expected) + " got "
              + Arrays.toString(ids));
        }
      }
    }
    assertEquals(List.of(), mismatches, name + ": test strings whose ids differ");
  }
}
