package io.sparkformers.datasets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizerTest {
  static List<String> lines;
  @TempDir static Path shared;
  @TempDir Path cache;
  static Path bpe;
  static Path wordPiece;

  @BeforeAll
  static void trainOnce() throws IOException {
    try (InputStream in = TokenizerTest.class.getResourceAsStream("/text/apache-2.0.txt")) {
      lines = new ArrayList<>(Arrays.asList(new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")));
    }
    bpe = shared.resolve("bpe");
    TokenizerTrainer.byteLevelBpe().vocabSize(600).minFrequency(2).build().train(lines, bpe);
    wordPiece = shared.resolve("wordpiece");
    TokenizerTrainer.wordPiece().vocabSize(500).minFrequency(2).build().train(lines, wordPiece);
  }

  @Test
  void trainedByteLevelBpeLoadsInDjlAndRoundTripsAnyText() throws IOException {
    try (Tokenizer t = AutoTokenizer.fromPretrained(bpe)) {
      assertEquals(600, t.vocabSize());
      assertEquals(0, t.eosTokenId());
      assertEquals(0, t.padTokenId());
      assertEquals(1024, t.modelMaxLength());
      // Frequent words of the license are single tokens; a space is written Ġ.
      assertEquals(List.of("ĠLicense"), t.tokenize(" License"));
      assertEquals(List.of("th", "e", "ĠWork"), t.tokenize("the Work")); // "the" rarely starts a line there
      for (String text : List.of("Licensed under the Apache License, Version 2.0", "naïve café — 日本語 🙂 \t x",
          lines.get(10), "")) {
        Tokenizer.Encoded e = t.encode(text);
        assertEquals(e.inputIds().length, e.attentionMask().length);
        assertEquals(text, t.decode(e.inputIds(), false));
      }
      int[] endOfText = t.encode("a<|endoftext|>").inputIds();
      assertEquals(0, endOfText[endOfText.length - 1]);
      assertEquals("a", t.decode(endOfText, true));
      Tokenizer.Encoded truncated = t.encode("Licensed under the Apache License, Version 2.0", 3, true);
      assertEquals(3, truncated.inputIds().length);
      Map<?, ?> json = new com.fasterxml.jackson.databind.ObjectMapper().readValue(
          Files.readString(bpe.resolve("tokenizer.json")), Map.class);
      assertEquals(600 - 257, ((List<?>) ((Map<?, ?>) json.get("model")).get("merges")).size());
    }
  }

  /**
   * encode, encodeBatch and encodeWithOffsets read only the ids, the mask and the spans out of the native
   * encodings: they equal what DJL's own Encoding holds for the same tokenizer.json and options (special tokens
   * or not, truncated or not, empty and non-ASCII texts, a batch of the texts).
   */
  @Test
  void encodingsEqualDjlsOwnEncodings() throws IOException {
    List<String> texts = List.of("Licensed under the Apache License, Version 2.0", "naïve café — 日本語 🙂 \t x", "",
        lines.get(10), "a<|endoftext|>b [SEP] c", "  two  spaces\r\nand CRLF ");
    for (Path folder : List.of(bpe, wordPiece)) {
      try (Tokenizer t = AutoTokenizer.fromPretrained(folder)) {
        for (int maxLength : new int[] {0, 5}) {
          for (boolean special : new boolean[] {true, false}) {
            Map<String, String> options = new java.util.HashMap<>(Map.of("addSpecialTokens", String.valueOf(special),
                "padding", "false", "truncation", String.valueOf(maxLength > 0)));
            if (maxLength > 0) {
              options.put("maxLength", String.valueOf(maxLength));
            }
            try (ai.djl.huggingface.tokenizers.HuggingFaceTokenizer djl =
                ai.djl.huggingface.tokenizers.HuggingFaceTokenizer.newInstance(folder.resolve("tokenizer.json"),
                    options)) {
              ai.djl.huggingface.tokenizers.Encoding[] expected = djl.batchEncode(texts);
              List<Tokenizer.Encoded> batch = t.encodeBatch(texts, maxLength, special);
              String where = folder.getFileName() + " maxLength " + maxLength + " special " + special;
              assertEquals(texts.size(), batch.size(), where);
              for (int i = 0; i < texts.size(); i++) {
                long[] ids = expected[i].getIds();
                long[] mask = expected[i].getAttentionMask();
                Tokenizer.Encoded one = t.encode(texts.get(i), maxLength, special);
                for (Tokenizer.Encoded e : List.of(batch.get(i), one)) {
                  assertArrayEquals(ids, Arrays.stream(e.inputIds()).asLongStream().toArray(), where + " " + i);
                  assertArrayEquals(mask, Arrays.stream(e.attentionMask()).asLongStream().toArray(), where + " " + i);
                }
                if (maxLength == 0) {
                  Tokenizer.EncodedWithOffsets o = t.encodeWithOffsets(texts.get(i), special);
                  assertArrayEquals(ids, Arrays.stream(o.inputIds()).asLongStream().toArray(), where + " " + i);
                  ai.djl.huggingface.tokenizers.jni.CharSpan[] spans = expected[i].getCharTokenSpans();
                  for (int k = 0; k < ids.length; k++) {
                    assertEquals(spans[k] == null ? 0 : spans[k].getStart(), o.charStarts()[k], where + " " + i);
                    assertEquals(spans[k] == null ? 0 : spans[k].getEnd(), o.charEnds()[k], where + " " + i);
                  }
                }
              }
            }
          }
        }
        assertThrows(NullPointerException.class, () -> t.encodeBatch(Arrays.asList("a", null), 0, true));
      }
    }
  }

  @Test
  void trainedWordPieceAddsClsAndSepAndDecodesLowercased() {
    try (Tokenizer t = AutoTokenizer.fromPretrained(wordPiece)) {
      assertEquals(2, t.specialTokenId("cls_token"));
      assertEquals(4, t.maskTokenId());
      int[] ids = t.encode("The Licensor shall, NOT!").inputIds();
      assertEquals(2, ids[0]);
      assertEquals(3, ids[ids.length - 1]);
      assertEquals("the licensor shall, not!", t.decode(ids, true));
      assertTrue(t.tokenize("licensor").size() <= 2, t.tokenize("licensor").toString());
    }
  }

  @Test
  void tokenizeAndGroupTextsBuildCausalLmBlocksAndAreCached() {
    List<Map<String, Object>> rows = new ArrayList<>();
    for (String line : lines.subList(0, 40)) {
      rows.add(Map.of("text", line));
    }
    try (Dataset memory = Dataset.fromRows(Features.of("text", ColumnType.STRING), rows, cache)) {
      memory.saveToDisk(cache.resolve("texts"));
    }
    try (Tokenizer t = AutoTokenizer.fromPretrained(bpe);
        Dataset saved = Dataset.loadFromDisk(cache.resolve("texts"));
        Dataset d = saved.withCacheDir(cache);
        Dataset tokenized = t.tokenize(d, "text", 0, "text");
        Dataset again = t.tokenize(d, "text", 0, "text");
        Dataset blocks = GroupTexts.groupTexts(tokenized, 16)) {
      assertEquals(Features.of("input_ids", ColumnType.INT32_LIST, "attention_mask", ColumnType.INT32_LIST),
          tokenized.features());
      assertEquals(40, tokenized.numRows());
      assertEquals(again.files(), tokenized.files()); // cached under the tokenizer's fingerprint
      for (int i = 0; i < 40; i++) {
        assertArrayEquals(t.encode(lines.get(i)).inputIds(), (int[]) tokenized.get(i, "input_ids"));
      }
      List<Integer> all = new ArrayList<>();
      for (Object ids : tokenized.column("input_ids")) {
        Arrays.stream((int[]) ids).forEach(all::add);
      }
      assertEquals(all.size() / 16, blocks.numRows());
      assertEquals(List.of("input_ids", "attention_mask", "labels"), blocks.columnNames());
      for (int b = 0; b < blocks.numRows(); b++) {
        int[] ids = (int[]) blocks.get(b, "input_ids");
        assertEquals(16, ids.length);
        for (int k = 0; k < 16; k++) {
          assertEquals((int) all.get(b * 16 + k), ids[k]);
        }
        assertArrayEquals(ids, (int[]) blocks.get(b, "labels"));
      }
    }
  }

  @Test
  void aMissingTokenizerOrBadConfigIsNamed(@TempDir Path dir) throws IOException {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> AutoTokenizer.fromPretrained(dir));
    assertEquals(dir + " has no tokenizer.json (nor GPT-2's vocab.json + merges.txt)", e.getMessage());
    Files.copy(bpe.resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
    Files.writeString(dir.resolve("tokenizer_config.json"), "{\"pad_token\": \"<pad>\"}");
    e = assertThrows(IllegalArgumentException.class, () -> AutoTokenizer.fromPretrained(dir));
    assertEquals(dir.resolve("tokenizer_config.json") + ": pad_token '<pad>' is not in the vocabulary of "
        + dir.resolve("tokenizer.json"), e.getMessage());
  }
}
