package io.sparkformers.datasets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sparkformers.datasets.internal.ByteLevel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Llama-family tokenizer.json layouts, built small here, loaded through DJL's binding: Llama 3's byte-level BPE
 * (a Split regex, ignore_merges, special tokens such as {@code <|begin_of_text|>}) and Llama 2's SentencePiece
 * BPE (Metaspace, byte fallback), with what tokenizer_config.json changes (added tokens, add_bos/eos_token).
 */
class LlamaTokenizerLoadingTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String LLAMA3_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}|"
      + " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  @TempDir Path dir;

  private static ObjectNode added(int id, String content) {
    ObjectNode t = JSON.createObjectNode();
    t.put("id", id);
    t.put("content", content);
    t.put("single_word", false);
    t.put("lstrip", false);
    t.put("rstrip", false);
    t.put("normalized", false);
    t.put("special", true);
    return t;
  }

  private static ObjectNode template(String bos) {
    ObjectNode post = JSON.createObjectNode();
    post.put("type", "TemplateProcessing");
    ObjectNode s = post.putArray("single").addObject().putObject("SpecialToken");
    s.put("id", bos);
    s.put("type_id", 0);
    ObjectNode a = post.withArray("single").addObject().putObject("Sequence");
    a.put("id", "A");
    a.put("type_id", 0);
    post.set("pair", post.get("single").deepCopy());
    ObjectNode b = post.withArray("pair").addObject().putObject("Sequence");
    b.put("id", "B");
    b.put("type_id", 1);
    return post;
  }

  private static ObjectNode withSpecial(ObjectNode template, String token, int id) {
    ObjectNode s = template.with("special_tokens").putObject(token);
    s.put("id", token);
    s.putArray("ids").add(id);
    s.putArray("tokens").add(token);
    return template;
  }

  private void write(Path folder, ObjectNode tokenizer, String config) throws IOException {
    Files.createDirectories(folder);
    JSON.writeValue(folder.resolve("tokenizer.json").toFile(), tokenizer);
    Files.writeString(folder.resolve("tokenizer_config.json"), config);
  }

  @Test
  void llama3ByteLevelBpeWithIgnoreMergesAndSpecialTokens() throws IOException {
    List<String> bytes = ByteLevel.alphabet();
    ObjectNode root = JSON.createObjectNode();
    root.put("version", "1.0");
    ArrayNode addedTokens = root.putArray("added_tokens");
    addedTokens.add(added(260, "<|begin_of_text|>")).add(added(261, "<|end_of_text|>")).add(added(262, "<|eot_id|>"));
    root.putNull("normalizer");
    ObjectNode pre = root.putObject("pre_tokenizer");
    pre.put("type", "Sequence");
    ObjectNode split = pre.putArray("pretokenizers").addObject();
    split.put("type", "Split");
    split.putObject("pattern").put("Regex", LLAMA3_SPLIT);
    split.put("behavior", "Isolated");
    split.put("invert", false);
    ObjectNode byteLevel = pre.withArray("pretokenizers").addObject();
    byteLevel.put("type", "ByteLevel");
    byteLevel.put("add_prefix_space", false);
    byteLevel.put("trim_offsets", true);
    byteLevel.put("use_regex", false);
    ObjectNode post = root.putObject("post_processor");
    post.put("type", "Sequence");
    ObjectNode postByteLevel = post.putArray("processors").addObject();
    postByteLevel.put("type", "ByteLevel");
    postByteLevel.put("add_prefix_space", true);
    postByteLevel.put("trim_offsets", false);
    postByteLevel.put("use_regex", true);
    post.withArray("processors").add(withSpecial(template("<|begin_of_text|>"), "<|begin_of_text|>", 260));
    ObjectNode decoder = root.putObject("decoder");
    decoder.put("type", "ByteLevel");
    decoder.put("add_prefix_space", true);
    decoder.put("trim_offsets", true);
    decoder.put("use_regex", true);
    ObjectNode model = root.putObject("model");
    model.put("type", "BPE");
    model.putNull("dropout");
    model.putNull("unk_token");
    model.putNull("continuing_subword_prefix");
    model.putNull("end_of_word_suffix");
    model.put("fuse_unk", false);
    model.put("byte_fallback", false);
    model.put("ignore_merges", true);
    ObjectNode vocab = model.putObject("vocab");
    for (int i = 0; i < bytes.size(); i++) {
      vocab.put(bytes.get(i), i);
    }
    vocab.put("he", 256).put("ll", 257).put("hell", 258).put("Ġworld", 259);
    // No merge builds "Ġworld": with ignore_merges a word in the vocabulary is one token all the same.
    model.putArray("merges").add(JSON.createArrayNode().add("h").add("e")).add(JSON.createArrayNode().add("l").add("l"))
        .add(JSON.createArrayNode().add("he").add("ll"));
    Path folder = dir.resolve("llama3");
    write(folder, root, """
        {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "tokenizer_class": "PreTrainedTokenizerFast",
         "added_tokens_decoder": {
           "260": {"content": "<|begin_of_text|>", "special": true},
           "263": {"content": "<|reserved_special_token_0|>", "lstrip": false, "normalized": false,
                   "rstrip": false, "single_word": false, "special": true}}}
        """);
    try (Tokenizer t = AutoTokenizer.fromPretrained(folder)) {
      int o = bytes.indexOf("o");
      assertArrayEquals(new int[] {260, 258, o, 259, 262, 263},
          t.encode("hello world<|eot_id|><|reserved_special_token_0|>").inputIds());
      assertArrayEquals(new int[] {258, o, 259}, t.encode("hello world", 0, false).inputIds());
      assertEquals(260, t.bosTokenId());
      assertEquals(262, t.eosTokenId());
      assertEquals(264, t.vocabSize());
      assertTrue(t.specialTokenIds().containsAll(List.of(260, 261, 262, 263)));
      assertEquals("hello world", t.decode(new int[] {260, 258, o, 259, 262}, true));
      // Merges alone would give "he", "ll" … for a word outside the vocabulary.
      assertEquals(List.of("hell", "o", "Ġ", "w", "o", "r", "l", "d", "s"), t.tokenize("hello worlds"));
    }
  }

  private static ObjectNode sentencePieceBpe() {
    ObjectNode root = JSON.createObjectNode();
    root.put("version", "1.0");
    root.putArray("added_tokens").add(added(0, "<unk>")).add(added(1, "<s>")).add(added(2, "</s>"));
    root.putNull("normalizer");
    ObjectNode pre = root.putObject("pre_tokenizer");
    pre.put("type", "Metaspace");
    pre.put("replacement", "▁");
    pre.put("prepend_scheme", "first");
    pre.put("split", false);
    root.set("post_processor", withSpecial(template("<s>"), "<s>", 1));
    ObjectNode decoder = root.putObject("decoder");
    decoder.put("type", "Sequence");
    ArrayNode steps = decoder.putArray("decoders");
    ObjectNode replace = steps.addObject();
    replace.put("type", "Replace");
    replace.putObject("pattern").put("String", "▁");
    replace.put("content", " ");
    steps.addObject().put("type", "ByteFallback");
    steps.addObject().put("type", "Fuse");
    ObjectNode strip = steps.addObject();
    strip.put("type", "Strip");
    strip.put("content", " ");
    strip.put("start", 1);
    strip.put("stop", 0);
    ObjectNode model = root.putObject("model");
    model.put("type", "BPE");
    model.putNull("dropout");
    model.put("unk_token", "<unk>");
    model.putNull("continuing_subword_prefix");
    model.putNull("end_of_word_suffix");
    model.put("fuse_unk", true);
    model.put("byte_fallback", true);
    model.put("ignore_merges", false);
    ObjectNode vocab = model.putObject("vocab");
    vocab.put("<unk>", 0).put("<s>", 1).put("</s>", 2);
    for (int b = 0; b < 256; b++) {
      vocab.put(String.format("<0x%02X>", b), 3 + b);
    }
    String[] pieces = {"▁", "h", "e", "l", "o", "w", "▁h", "ll", "▁he", "▁hell", "▁hello"};
    for (int i = 0; i < pieces.length; i++) {
      vocab.put(pieces[i], 259 + i);
    }
    ArrayNode merges = model.putArray("merges");
    for (String[] m : new String[][] {{"▁", "h"}, {"l", "l"}, {"▁h", "e"}, {"▁he", "ll"}, {"▁hell", "o"}}) {
      merges.addArray().add(m[0]).add(m[1]);
    }
    return root;
  }

  @Test
  void sentencePieceBpeWithByteFallbackAndBosEosFromTheConfig() throws IOException {
    int hello = 269;
    int space = 259;
    int w = 264;
    int[] e9 = {3 + 0xC3, 3 + 0xA9}; // "é" in UTF-8, as byte tokens
    Path asIs = dir.resolve("as-is");
    write(asIs, sentencePieceBpe(), "{\"bos_token\": \"<s>\", \"eos_token\": \"</s>\", \"unk_token\": \"<unk>\"}");
    try (Tokenizer t = AutoTokenizer.fromPretrained(asIs)) {
      assertArrayEquals(new int[] {1, hello, space, w, e9[0], e9[1]}, t.encode("hello wé").inputIds());
      assertEquals("hello wé", t.decode(t.encode("hello wé").inputIds(), true));
    }
    Path both = dir.resolve("bos-and-eos");
    write(both, sentencePieceBpe(), """
        {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "add_bos_token": true, "add_eos_token": true}
        """);
    try (Tokenizer t = AutoTokenizer.fromPretrained(both)) {
      assertArrayEquals(new int[] {1, hello, space, w, e9[0], e9[1], 2}, t.encode("hello wé").inputIds());
      assertArrayEquals(new int[] {hello}, t.encode("hello", 0, false).inputIds());
    }
    Path neither = dir.resolve("neither");
    write(neither, sentencePieceBpe(), "{\"bos_token\": \"<s>\", \"add_bos_token\": false}");
    try (Tokenizer t = AutoTokenizer.fromPretrained(neither)) {
      assertArrayEquals(new int[] {hello}, t.encode("hello").inputIds());
    }
    Path missing = dir.resolve("no-eos");
    write(missing, sentencePieceBpe(), "{\"add_eos_token\": true}");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> AutoTokenizer.fromPretrained(missing));
    assertTrue(e.getMessage().endsWith("add_bos_token is true but there is no bos_token"), e.getMessage());
  }

  @Test
  void sentencePieceUnigramWithByteFallback() throws IOException {
    ObjectNode root = JSON.createObjectNode();
    root.put("version", "1.0");
    root.putArray("added_tokens").add(added(0, "<unk>")).add(added(1, "<s>")).add(added(2, "</s>"));
    root.putNull("normalizer");
    ObjectNode pre = root.putObject("pre_tokenizer");
    pre.put("type", "Metaspace");
    pre.put("replacement", "▁");
    pre.put("prepend_scheme", "always");
    pre.put("split", true);
    root.putNull("post_processor");
    ObjectNode decoder = root.putObject("decoder");
    decoder.put("type", "Sequence");
    decoder.putArray("decoders").addObject().put("type", "ByteFallback");
    decoder.withArray("decoders").add(pre.deepCopy());
    ObjectNode model = root.putObject("model");
    model.put("type", "Unigram");
    model.put("unk_id", 0);
    model.put("byte_fallback", true);
    ArrayNode vocab = model.putArray("vocab");
    vocab.addArray().add("<unk>").add(0.0);
    vocab.addArray().add("<s>").add(0.0);
    vocab.addArray().add("</s>").add(0.0);
    for (int b = 0; b < 256; b++) {
      vocab.addArray().add(String.format("<0x%02X>", b)).add(0.0);
    }
    vocab.addArray().add("▁").add(-2.0); // 259
    vocab.addArray().add("▁ca").add(-3.0); // 260
    vocab.addArray().add("f").add(-4.0); // 261
    vocab.addArray().add("▁caf").add(-5.0); // 262: "▁ca" + "f" (-7) loses to it
    Path folder = dir.resolve("unigram");
    write(folder, root, """
        {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "add_bos_token": true}
        """);
    try (Tokenizer t = AutoTokenizer.fromPretrained(folder)) {
      // "é" has no piece: its UTF-8 bytes stand for it.
      assertArrayEquals(new int[] {1, 262, 3 + 0xC3, 3 + 0xA9}, t.encode("café").inputIds());
      assertEquals("café", t.decode(t.encode("café").inputIds(), true));
      assertEquals(263, t.vocabSize());
    }
  }
}
