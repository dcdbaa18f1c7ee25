package io.sparkformers.datasets;

import static io.sparkformers.datasets.internal.TokenizerJsonNodes.byteLevel;
import static io.sparkformers.datasets.internal.TokenizerJsonNodes.sequence;
import static io.sparkformers.datasets.internal.TokenizerJsonNodes.special;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sparkformers.datasets.internal.BertText;
import io.sparkformers.datasets.internal.BpeLearner;
import io.sparkformers.datasets.internal.ByteLevel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Trains a tokenizer from texts and writes a {@code tokenizer.json} (with a {@code tokenizer_config.json})
 * that DJL's binding and Hugging Face's tokenizers load: GPT-2-style byte-level BPE, or BERT-style WordPiece
 * (lowercased, "##" continuation). The learning follows Hugging Face's {@code BpeTrainer}
 * (see {@code BpeLearner}); WordPiece vocabularies are learned the same way, as Hugging Face's
 * {@code WordPieceTrainer} does.
 */
public final class TokenizerTrainer {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The kind of tokenizer to train. */
  public enum Kind { BYTE_LEVEL_BPE, WORDPIECE }

  private final Kind kind;
  private final int vocabSize;
  private final long minFrequency;
  private final List<String> specialTokens;
  private final long modelMaxLength;

  private TokenizerTrainer(Builder b) {
    this.kind = b.kind;
    this.vocabSize = b.vocabSize;
    this.minFrequency = b.minFrequency;
    this.specialTokens = b.specialTokens != null ? List.copyOf(b.specialTokens)
        : kind == Kind.BYTE_LEVEL_BPE ? List.of("<|endoftext|>") : List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]");
    this.modelMaxLength = b.modelMaxLength;
    if (kind == Kind.WORDPIECE) {
      for (String t : List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")) {
        if (!specialTokens.contains(t)) {
          throw new IllegalArgumentException("A WordPiece tokenizer needs the special token " + t);
        }
      }
    }
  }

  /** GPT-2 style: byte-level BPE, special token {@code <|endoftext|>} (bos, eos, unk and pad). */
  public static Builder byteLevelBpe() {
    return new Builder(Kind.BYTE_LEVEL_BPE);
  }

  /** BERT style: lowercasing WordPiece with [PAD] [UNK] [CLS] [SEP] [MASK]. */
  public static Builder wordPiece() {
    return new Builder(Kind.WORDPIECE);
  }

  /** Learns from {@code texts} and writes {@code tokenizer.json} and {@code tokenizer_config.json} into {@code folder}. */
  public void train(Iterable<String> texts, Path folder) {
    Map<String, Long> words = new HashMap<>();
    for (String text : texts) {
      if (text == null) {
        continue;
      }
      List<String> pieces = kind == Kind.BYTE_LEVEL_BPE ? ByteLevel.preTokenize(text)
          : BertText.preTokenize(BertText.normalize(text, true));
      for (String p : pieces) {
        words.merge(p, 1L, Long::sum);
      }
    }
    List<String> alphabet = kind == Kind.BYTE_LEVEL_BPE ? ByteLevel.alphabet() : List.of();
    BpeLearner.Result r = BpeLearner.learn(words, specialTokens, alphabet, vocabSize, minFrequency,
        kind == Kind.WORDPIECE ? "##" : "");
    try {
      Files.createDirectories(folder);
      JSON.writerWithDefaultPrettyPrinter().writeValue(folder.resolve("tokenizer.json").toFile(), tokenizerJson(r));
      JSON.writerWithDefaultPrettyPrinter().writeValue(folder.resolve("tokenizer_config.json").toFile(), config());
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot write the tokenizer into " + folder, e);
    }
  }

  /** Learns from a STRING column of a dataset. */
  public void train(Dataset dataset, String column, Path folder) {
    if (dataset.features().type(column) != ColumnType.STRING) {
      throw new IllegalArgumentException("Column '" + column + "' is " + dataset.features().type(column)
          + "; a tokenizer learns from a STRING column");
    }
    List<String> texts = new ArrayList<>();
    for (Object o : dataset.column(column)) {
      texts.add((String) o);
    }
    train(texts, folder);
  }

  private ObjectNode tokenizerJson(BpeLearner.Result r) {
    ObjectNode root = JSON.createObjectNode();
    root.put("version", "1.0");
    root.putNull("truncation");
    root.putNull("padding");
    ArrayNode added = root.putArray("added_tokens");
    for (int i = 0; i < specialTokens.size(); i++) {
      ObjectNode t = added.addObject();
      t.put("id", i);
      t.put("content", specialTokens.get(i));
      t.put("single_word", false);
      t.put("lstrip", false);
      t.put("rstrip", false);
      t.put("normalized", false);
      t.put("special", true);
    }
    ObjectNode vocab = JSON.createObjectNode();
    for (int i = 0; i < r.vocab().size(); i++) {
      vocab.put(r.vocab().get(i), i);
    }
    if (kind == Kind.BYTE_LEVEL_BPE) {
      root.putNull("normalizer");
      root.set("pre_tokenizer", byteLevel(false, true));
      root.set("post_processor", byteLevel(true, false));
      root.set("decoder", byteLevel(true, true));
      ObjectNode model = root.putObject("model");
      model.put("type", "BPE");
      model.putNull("dropout");
      model.putNull("unk_token");
      model.putNull("continuing_subword_prefix");
      model.putNull("end_of_word_suffix");
      model.put("fuse_unk", false);
      model.put("byte_fallback", false);
      model.put("ignore_merges", false);
      model.set("vocab", vocab);
      ArrayNode merges = model.putArray("merges");
      for (String[] m : r.merges()) {
        merges.addArray().add(m[0]).add(m[1]); // the pair form the library writes since 0.20
      }
    } else {
      ObjectNode norm = root.putObject("normalizer");
      norm.put("type", "BertNormalizer");
      norm.put("clean_text", true);
      norm.put("handle_chinese_chars", true);
      norm.putNull("strip_accents");
      norm.put("lowercase", true);
      root.putObject("pre_tokenizer").put("type", "BertPreTokenizer");
      int cls = specialTokens.indexOf("[CLS]");
      int sep = specialTokens.indexOf("[SEP]");
      ObjectNode post = root.putObject("post_processor");
      post.put("type", "TemplateProcessing");
      ArrayNode single = post.putArray("single");
      special(single, "[CLS]", 0);
      sequence(single, "A", 0);
      special(single, "[SEP]", 0);
      ArrayNode pair = post.putArray("pair");
      special(pair, "[CLS]", 0);
      sequence(pair, "A", 0);
      special(pair, "[SEP]", 0);
      sequence(pair, "B", 1);
      special(pair, "[SEP]", 1);
      ObjectNode specials = post.putObject("special_tokens");
      for (Object[] t : new Object[][] {{"[CLS]", cls}, {"[SEP]", sep}}) {
        ObjectNode s = specials.putObject((String) t[0]);
        s.put("id", (String) t[0]);
        s.putArray("ids").add((Integer) t[1]);
        s.putArray("tokens").add((String) t[0]);
      }
      ObjectNode decoder = root.putObject("decoder");
      decoder.put("type", "WordPiece");
      decoder.put("prefix", "##");
      decoder.put("cleanup", true);
      ObjectNode model = root.putObject("model");
      model.put("type", "WordPiece");
      model.put("unk_token", "[UNK]");
      model.put("continuing_subword_prefix", "##");
      model.put("max_input_chars_per_word", 100);
      model.set("vocab", vocab);
    }
    return root;
  }

  private ObjectNode config() {
    ObjectNode c = JSON.createObjectNode();
    c.put("model_max_length", modelMaxLength);
    c.put("padding_side", "right");
    if (kind == Kind.BYTE_LEVEL_BPE) {
      String eos = specialTokens.get(0);
      c.put("tokenizer_class", "GPT2Tokenizer");
      c.put("bos_token", eos);
      c.put("eos_token", eos);
      c.put("unk_token", eos);
      c.put("pad_token", eos);
    } else {
      c.put("tokenizer_class", "BertTokenizer");
      c.put("do_lower_case", true);
      c.put("pad_token", "[PAD]");
      c.put("unk_token", "[UNK]");
      c.put("cls_token", "[CLS]");
      c.put("sep_token", "[SEP]");
      c.put("mask_token", "[MASK]");
    }
    return c;
  }

  /** Builds a {@link TokenizerTrainer}. */
  public static final class Builder {
    private final Kind kind;
    private int vocabSize = 8000;
    private long minFrequency = 2;
    private List<String> specialTokens;
    private long modelMaxLength = 1024;

    private Builder(Kind kind) {
      this.kind = kind;
    }

    /** The vocabulary size to reach (special tokens and the alphabet included). */
    public Builder vocabSize(int size) {
      this.vocabSize = size;
      return this;
    }

    /** A pair must occur this often to be merged (Hugging Face's min_frequency). */
    public Builder minFrequency(long count) {
      this.minFrequency = count;
      return this;
    }

    /** Special tokens, given the first ids in this order. */
    public Builder specialTokens(List<String> tokens) {
      this.specialTokens = tokens;
      return this;
    }

    public Builder modelMaxLength(long length) {
      this.modelMaxLength = length;
      return this;
    }

    public TokenizerTrainer build() {
      return new TokenizerTrainer(this);
    }
  }
}
