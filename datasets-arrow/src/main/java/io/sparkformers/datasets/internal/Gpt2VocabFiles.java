package io.sparkformers.datasets.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;

/**
 * GPT-2's original vocabulary files ({@code vocab.json}: token → id, {@code merges.txt}: BPE merges by rank,
 * the same files as OpenAI's encoder.json and vocab.bpe) turned into a byte-level BPE {@code tokenizer.json},
 * as transformers' GPT2TokenizerFast does when a folder has no tokenizer.json (convert_slow_tokenizer's
 * GPT2Converter): a BPE model with no unk token and empty subword affixes, GPT-2's ByteLevel pre-tokenizer
 * (add_prefix_space from tokenizer_config.json, default false), a ByteLevel decoder, and a ByteLevel
 * post-processor (a TemplateProcessing that prepends bos when {@code add_bos_token} is true).
 */
public final class Gpt2VocabFiles {
  public static final String VOCAB = "vocab.json";
  public static final String MERGES = "merges.txt";

  private static final ObjectMapper JSON = new ObjectMapper();

  private Gpt2VocabFiles() {}

  /** True when {@code folder} holds both vocab.json and merges.txt. */
  public static boolean presentIn(Path folder) {
    return Files.isRegularFile(folder.resolve(VOCAB)) && Files.isRegularFile(folder.resolve(MERGES));
  }

  /**
   * The tokenizer.json text for the folder's vocab.json and merges.txt.
   *
   * @param specialTokens special tokens to register as added tokens (bos, eos, unk, ...), each of which must be
   *     in the vocabulary
   * @param bosToken the token to prepend to every sequence, or null (transformers' add_bos_token=False)
   */
  public static byte[] toTokenizerJson(Path folder, boolean addPrefixSpace, Iterable<String> specialTokens,
      String bosToken) {
    Path vocabFile = folder.resolve(VOCAB);
    Path mergesFile = folder.resolve(MERGES);
    ObjectNode vocab = readVocab(vocabFile);
    ArrayNode merges = readMerges(mergesFile, vocab);

    ObjectNode root = JSON.createObjectNode();
    root.put("version", "1.0");
    root.putNull("truncation");
    root.putNull("padding");
    ArrayNode added = root.putArray("added_tokens");
    java.util.Set<String> seen = new java.util.LinkedHashSet<>();
    for (String token : specialTokens) {
      if (!seen.add(token)) {
        continue;
      }
      JsonNode id = vocab.get(token);
      if (id == null) {
        throw new IllegalArgumentException(vocabFile + ": the special token '" + token + "' is not in the vocabulary");
      }
      ObjectNode t = added.addObject();
      t.put("id", id.asInt());
      t.put("content", token);
      t.put("single_word", false);
      t.put("lstrip", false);
      t.put("rstrip", false);
      t.put("normalized", true);
      t.put("special", true);
    }
    root.putNull("normalizer");
    root.set("pre_tokenizer", TokenizerJsonNodes.byteLevel(addPrefixSpace, true));
    if (bosToken == null) {
      root.set("post_processor", TokenizerJsonNodes.byteLevel(true, false));
    } else {
      JsonNode bosId = vocab.get(bosToken);
      if (bosId == null) {
        throw new IllegalArgumentException(vocabFile + ": the bos_token '" + bosToken + "' is not in the vocabulary");
      }
      ObjectNode post = root.putObject("post_processor");
      post.put("type", "TemplateProcessing");
      ArrayNode single = post.putArray("single");
      TokenizerJsonNodes.special(single, bosToken, 0);
      TokenizerJsonNodes.sequence(single, "A", 0);
      ArrayNode pair = post.putArray("pair");
      TokenizerJsonNodes.special(pair, bosToken, 0);
      TokenizerJsonNodes.sequence(pair, "A", 0);
      TokenizerJsonNodes.sequence(pair, "B", 1);
      ObjectNode s = post.putObject("special_tokens").putObject(bosToken);
      s.put("id", bosToken);
      s.putArray("ids").add(bosId.asInt());
      s.putArray("tokens").add(bosToken);
    }
    root.set("decoder", TokenizerJsonNodes.byteLevel(true, true));
    ObjectNode model = root.putObject("model");
    model.put("type", "BPE");
    model.putNull("dropout");
    model.putNull("unk_token");
    model.put("continuing_subword_prefix", "");
    model.put("end_of_word_suffix", "");
    model.put("fuse_unk", false);
    model.put("byte_fallback", false);
    model.set("vocab", vocab);
    model.set("merges", merges);
    try {
      return JSON.writeValueAsBytes(root);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write the tokenizer.json built from " + folder, e);
    }
  }

  private static ObjectNode readVocab(Path file) {
    JsonNode tree;
    try {
      tree = JSON.readTree(file.toFile());
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(file + ": not valid JSON (line " + e.getLocation().getLineNr() + ", column "
          + e.getLocation().getColumnNr() + "): " + e.getOriginalMessage());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
    if (tree == null || !tree.isObject()) {
      throw new IllegalArgumentException(file + ": expected a JSON object of token → id");
    }
    ObjectNode vocab = (ObjectNode) tree;
    Iterator<Map.Entry<String, JsonNode>> it = vocab.fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> e = it.next();
      if (!e.getValue().canConvertToInt() || !e.getValue().isIntegralNumber() || e.getValue().asInt() < 0) {
        throw new IllegalArgumentException(file + ": token '" + e.getKey() + "' has id " + e.getValue()
            + ", expected a non-negative integer");
      }
    }
    return vocab;
  }

  /**
   * The merges as GPT2Tokenizer reads them: the file split at '\n', the first line (the "#version" header) and
   * the last piece (after the final newline) dropped, each line split on whitespace into two tokens.
   */
  private static ArrayNode readMerges(Path file, ObjectNode vocab) {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
    String[] lines = text.split("\n", -1);
    ArrayNode merges = JSON.createArrayNode();
    for (int i = 1; i < lines.length - 1; i++) {
      String[] parts = lines[i].trim().split("\\s+");
      if (parts.length != 2 || parts[0].isEmpty()) {
        throw new IllegalArgumentException(file + " line " + (i + 1) + ": expected two tokens separated by a space,"
            + " found '" + lines[i] + "'");
      }
      for (String token : new String[] {parts[0], parts[1], parts[0] + parts[1]}) {
        if (!vocab.has(token)) {
          throw new IllegalArgumentException(file + " line " + (i + 1) + ": the merge '" + lines[i] + "' uses or"
              + " makes '" + token + "', which is not in " + VOCAB);
        }
      }
      merges.add(parts[0] + " " + parts[1]);
    }
    return merges;
  }
}
