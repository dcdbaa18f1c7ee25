package io.sparkformers.training.pipelines;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkformers.training.models.GenerationConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The pipeline over gpt2-tiny (test resources, weights and PyTorch's greedy tokens from transformers) with a
 * word-level tokenizer whose token i is the word "w{i}": text in, PyTorch's greedy tokens out, decoded.
 */
class TextGenerationPipelineTest {
  // gpt2-tiny results.json, greedy prompt 0 and the 10 tokens transformers' generate adds to it.
  static final int[] PROMPT = {165, 26, 221, 213, 605};
  static final int[] GREEDY = {110, 165, 26, 221, 898, 221, 213, 165, 110, 221};

  @TempDir Path tmp;

  static Path folder(Path tmp, boolean withTokenizer) throws Exception {
    Path src = Paths.get(TextGenerationPipelineTest.class.getResource("/models/gpt2-tiny").toURI());
    Path dir = Files.createDirectories(tmp.resolve("gpt2-tiny"));
    for (String f : List.of("config.json", "model.safetensors", "generation_config.json")) {
      Files.copy(src.resolve(f), dir.resolve(f));
    }
    if (withTokenizer) {
      StringBuilder vocab = new StringBuilder();
      for (int i = 0; i < 999; i++) {
        vocab.append("\"w").append(i).append("\":").append(i).append(',');
      }
      Files.writeString(dir.resolve("tokenizer.json"), "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,"
          + "\"added_tokens\":[{\"id\":999,\"content\":\"<|endoftext|>\",\"single_word\":false,\"lstrip\":false,"
          + "\"rstrip\":false,\"normalized\":false,\"special\":true}],\"normalizer\":null,"
          + "\"pre_tokenizer\":{\"type\":\"Whitespace\"},\"post_processor\":null,\"decoder\":null,\"model\":"
          + "{\"type\":\"WordLevel\",\"vocab\":{" + vocab + "\"<|endoftext|>\":999},\"unk_token\":\"<|endoftext|>\"}}");
    }
    return dir;
  }

  static String words(int[] ids) {
    StringBuilder b = new StringBuilder();
    for (int id : ids) {
      b.append(b.length() == 0 ? "" : " ").append('w').append(id);
    }
    return b.toString();
  }

  @Test
  void textInPyTorchsGreedyTokensOutDecoded() throws Exception {
    try (TextGenerationPipeline pipe = TextGenerationPipeline.fromPretrained(folder(tmp, true))) {
      assertEquals(999, pipe.defaults().eosTokenIds().get(0), "generation_config.json gives the defaults");
      TextGenerationPipeline.Result r = pipe.generate(words(PROMPT), GenerationConfig.greedy(10));
      assertArrayEquals(PROMPT, r.promptIds());
      assertArrayEquals(GREEDY, r.generatedIds());
      assertEquals(words(GREEDY), r.text());
    }
  }

  @Test
  void aBatchGivesEachPromptsOwnTokensAndStreamsTheGrowingText() throws Exception {
    try (TextGenerationPipeline pipe = TextGenerationPipeline.fromPretrained(folder(tmp, true))) {
      Map<Integer, List<String>> streamed = new TreeMap<>();
      List<TextGenerationPipeline.Result> results = pipe.generate(List.of("w7 w8", words(PROMPT)),
          GenerationConfig.greedy(10), (row, text) -> streamed.computeIfAbsent(row, k -> new ArrayList<>()).add(text));
      assertArrayEquals(GREEDY, results.get(1).generatedIds(), "left padding leaves the longer prompt as alone");
      assertArrayEquals(pipe.generate("w7 w8", GenerationConfig.greedy(10)).generatedIds(),
          results.get(0).generatedIds());
      for (int row = 0; row < 2; row++) {
        List<String> texts = streamed.get(row);
        assertEquals(results.get(row).generatedIds().length, texts.size(), "one call per new token");
        assertEquals(results.get(row).text(), texts.get(texts.size() - 1));
      }
      assertEquals("w110", streamed.get(1).get(0));
    }
  }

  @Test
  void aFolderWithoutTokenizerAndTooLongPromptsAreNamed() throws Exception {
    Path bare = folder(tmp, false);
    IllegalArgumentException noTokenizer = assertThrows(IllegalArgumentException.class,
        () -> TextGenerationPipeline.fromPretrained(bare));
    assertEquals(bare + " holds no tokenizer (tokenizer.json, or vocab.json + merges.txt): the pipeline turns text"
        + " into tokens with it", noTokenizer.getMessage());
    Files.delete(bare.resolve("model.safetensors"));
    try (TextGenerationPipeline pipe = TextGenerationPipeline.fromPretrained(folder(tmp.resolve("b"), true))) {
      int[] long40 = new int[40];
      IllegalArgumentException tooLong = assertThrows(IllegalArgumentException.class,
          () -> pipe.generate(words(long40), GenerationConfig.greedy(10)));
      assertTrue(tooLong.getMessage().startsWith("prompt 0 has 40 tokens; with 10 new tokens that exceeds the"
          + " model's context (n_positions 48)"), tooLong.getMessage());
    }
  }

  @Test
  void aConversationIsRenderedWithTheFoldersTemplateAndAnswered() throws Exception {
    Path dir = folder(tmp, true);
    // Renders the contents space-separated and, as the generation prompt, the word w605: PROMPT's tokens.
    Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": \"{% for m in messages %}"
        + "{{ m['content'] }}{% if not loop.last %} {% endif %}{% endfor %}"
        + "{% if add_generation_prompt %} w605{% endif %}\"}");
    try (TextGenerationPipeline pipe = TextGenerationPipeline.fromPretrained(dir)) {
      List<Map<String, String>> chat = List.of(Map.of("role", "user", "content", "w165 w26 w221"),
          Map.of("role", "assistant", "content", "w213"));
      TextGenerationPipeline.Result r = pipe.chat(List.of(chat), GenerationConfig.greedy(10), null).get(0);
      assertArrayEquals(PROMPT, r.promptIds());
      assertArrayEquals(GREEDY, r.generatedIds());
    }
    Files.delete(dir.resolve("tokenizer_config.json"));
    try (TextGenerationPipeline pipe = TextGenerationPipeline.fromPretrained(dir)) {
      IllegalStateException e = assertThrows(IllegalStateException.class,
          () -> pipe.chat(List.of(Map.of("role", "user", "content", "w1"))));
      assertTrue(e.getMessage().startsWith("the model folder has no chat template"), e.getMessage());
    }
  }
}
