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
import io.sparkformers.datasets.internal.Metaspace;
import io.sparkformers.datasets.internal.UnigramLearner;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Trains a tokenizer from texts and writes a {@code tokenizer.json} (with a {@code tokenizer_config.json})
 * that DJL's binding and Hugging Face's tokenizers load: GPT-2-style byte-level BPE, or BERT-style WordPiece
 * (lowercased, "##" continuation), or SentencePiece-style Unigram (Metaspace "▁" word boundaries). The learning
 * follows Hugging Face's {@code BpeTrainer} (see {@code BpeLearner}); WordPiece vocabularies are learned the same
 * way, as Hugging Face's {@code WordPieceTrainer} does; Unigram ones as its {@code UnigramTrainer}
 * (see {@code UnigramLearner}).
 */
public final class TokenizerTrainer {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The kind of tokenizer to train. */
  public enum Kind { BYTE_LEVEL_BPE, WORDPIECE, UNIGRAM }

  private final Kind kind;
  private final int vocabSize;
  private final long minFrequency;
  private final List<String> specialTokens;
  private final long modelMaxLength;
  private final String unkToken;
  private final int maxPieceLength;
  private final double shrinkingFactor;
  private final int subIterations;

  private TokenizerTrainer(Builder b) {
    this.kind = b.kind;
    this.vocabSize = b.vocabSize;
    this.minFrequency = b.minFrequency;
    this.specialTokens = b.specialTokens != null ? List.copyOf(b.specialTokens) : switch (kind) {
      case BYTE_LEVEL_BPE -> List.of("<|endoftext|>");
      case WORDPIECE -> List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]");
      case UNIGRAM -> List.of("<unk>", "<s>", "</s>");
    };
    this.modelMaxLength = b.modelMaxLength;
    this.unkToken = b.unkToken;
    this.maxPieceLength = b.maxPieceLength;
    this.shrinkingFactor = b.shrinkingFactor;
    this.subIterations = b.subIterations;
    if (vocabSize <= specialTokens.size()) {
      throw new IllegalArgumentException("vocab_size " + vocabSize + " leaves no room beside the "
          + specialTokens.size() + " special tokens");
    }
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

  /** SentencePiece style: Unigram over Metaspace words, special tokens {@code <unk> <s> </s>}. */
  public static Builder unigram() {
    return new Builder(Kind.UNIGRAM);
  }

  /** BERT style: lowercasing WordPiece with [PAD] [UNK] [CLS] [SEP] [MASK]. */
  public static Builder wordPiece() {
    return new Builder(Kind.WORDPIECE);
  }

  /** Learns from {@code texts} and writes {@code tokenizer.json} and {@code tokenizer_config.json} into {@code folder}. */
  public void train(Iterable<String> texts, Path folder) {
    try {
      Files.createDirectories(folder);
      JSON.writerWithDefaultPrettyPrinter().writeValue(folder.resolve("tokenizer.json").toFile(), trainJson(texts));
      JSON.writerWithDefaultPrettyPrinter().writeValue(folder.resolve("tokenizer_config.json").toFile(), config());
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot write the tokenizer into " + folder, e);
    }
  }

  /** Learns from {@code texts} and writes one tokenizer.json file (any name, no tokenizer_config.json). */
  public void trainFile(Iterable<String> texts, Path tokenizerJson) {
    ObjectNode json = trainJson(texts);
    try {
      Path parent = tokenizerJson.toAbsolutePath().getParent();
      Files.createDirectories(parent);
      JSON.writerWithDefaultPrettyPrinter().writeValue(tokenizerJson.toFile(), json);
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot write " + tokenizerJson, e);
    }
  }

  private ObjectNode trainJson(Iterable<String> texts) {
    // Words in order of first appearance, so that a run is reproducible (the library's order is a random hash's).
    Map<String, Long> words = new LinkedHashMap<>();
    for (String text : texts) {
      if (text == null) {
        continue;
      }
      List<String> pieces = switch (kind) {
        case BYTE_LEVEL_BPE -> ByteLevel.preTokenize(text);
        case WORDPIECE -> BertText.preTokenize(BertText.normalize(text, true));
        case UNIGRAM -> Metaspace.preTokenize(text);
      };
      for (String p : pieces) {
        words.merge(p, 1L, Long::sum);
      }
    }
    if (kind == Kind.UNIGRAM) {
      UnigramLearner.Result r = new UnigramLearner(vocabSize, specialTokens, unkToken, maxPieceLength,
          shrinkingFactor, subIterations).learn(words);
      return unigramJson(r);
    }
    List<String> alphabet = kind == Kind.BYTE_LEVEL_BPE ? ByteLevel.alphabet() : List.of();
    BpeLearner.Result r = BpeLearner.learn(words, specialTokens, alphabet, vocabSize, minFrequency,
        kind == Kind.WORDPIECE ? "##" : "");
    return tokenizerJson(r);
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

  private ObjectNode withAddedTokens() {
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
    return root;
  }

  private ObjectNode unigramJson(UnigramLearner.Result r) {
    ObjectNode root = withAddedTokens();
    root.putNull("normalizer");
    root.set("pre_tokenizer", metaspace());
    root.putNull("post_processor");
    root.set("decoder", metaspace());
    ObjectNode model = root.putObject("model");
    model.put("type", "Unigram");
    if (r.unkId() >= 0) {
      model.put("unk_id", r.unkId());
    } else {
      model.putNull("unk_id");
    }
    ArrayNode vocab = model.putArray("vocab");
    for (UnigramLearner.Piece p : r.vocab()) {
      vocab.addArray().add(p.piece()).add(p.score());
    }
    model.put("byte_fallback", false);
    return root;
  }

  private static ObjectNode metaspace() {
    ObjectNode n = JSON.createObjectNode();
    n.put("type", "Metaspace");
    n.put("replacement", String.valueOf(Metaspace.REPLACEMENT));
    n.put("prepend_scheme", "always");
    n.put("split", true);
    return n;
  }

  private ObjectNode tokenizerJson(BpeLearner.Result r) {
    ObjectNode root = withAddedTokens();
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
    } else if (kind == Kind.UNIGRAM) {
      c.put("tokenizer_class", "PreTrainedTokenizerFast");
      if (unkToken != null) {
        c.put("unk_token", unkToken);
      }
      if (specialTokens.contains("<s>")) {
        c.put("bos_token", "<s>");
      }
      if (specialTokens.contains("</s>")) {
        c.put("eos_token", "</s>");
      }
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
    private String unkToken = "<unk>";
    private int maxPieceLength = 16;
    private double shrinkingFactor = 0.75;
    private int subIterations = 2;

    private Builder(Kind kind) {
      this.kind = kind;
    }

    /** Unigram: the unknown token (added first when it is not among the special tokens; null for none). */
    public Builder unkToken(String token) {
      this.unkToken = token;
      return this;
    }

    /** Unigram: the longest piece, in characters (the library's max_piece_length, 16). */
    public Builder maxPieceLength(int length) {
      this.maxPieceLength = length;
      return this;
    }

    /** Unigram: the share of pieces each pruning round keeps (the library's shrinking_factor, 0.75). */
    public Builder shrinkingFactor(double factor) {
      this.shrinkingFactor = factor;
      return this;
    }

    /** Unigram: EM iterations between prunings (the library's n_sub_iterations, 2). */
    public Builder subIterations(int count) {
      this.subIterations = count;
      return this;
    }

    /** The vocabulary size to reach (special tokens and the alphabet included). */
    public Builder vocabSize(int size) {
      this.vocabSize = size;
      return this;
    }

    /** A pair must occur this often to be merged (Hugging Face's min_frequency; BPE and WordPiece). */
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
