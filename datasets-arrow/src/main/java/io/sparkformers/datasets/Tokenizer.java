package io.sparkformers.datasets;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.TokenizersLibrary;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparkformers.datasets.internal.Fingerprint;
import io.sparkformers.datasets.internal.Gpt2VocabFiles;
import io.sparkformers.datasets.internal.TokenizerConfigOverrides;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A Hugging Face tokenizer loaded from a folder by {@link AutoTokenizer#fromPretrained}: {@code tokenizer.json}
 * runs in DJL's binding of the Rust tokenizers library (offline); a folder with GPT-2's {@code vocab.json} and
 * {@code merges.txt} instead is converted to a byte-level BPE tokenizer.json first, as transformers'
 * GPT2TokenizerFast does. {@code tokenizer_config.json} gives the
 * special tokens, {@code model_max_length} and {@code padding_side}, and changes tokenizer.json as transformers
 * does: tokens of {@code added_tokens_decoder} are added, {@code add_bos_token}/{@code add_eos_token} decide
 * what the post-processor adds. Encodes texts to ids and attention
 * masks, decodes ids, and tokenizes a dataset column through a cached {@link Dataset#mapBatched}.
 */
public final class Tokenizer implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path folder;
  private final Path tokenizerJson;
  private final Map<String, Integer> specialIds;
  private final Map<String, String> specialTokens;
  private final Set<Integer> allSpecialIds;
  private final long modelMaxLength;
  private final Padding.Side paddingSide;
  private final int vocabSize;
  private final String fingerprint;
  private final Map<String, HuggingFaceTokenizer> instances = new HashMap<>();
  /** tokenizer.json's bytes, read from the folder or built from vocab.json + merges.txt. */
  private final byte[] tokenizerBytes;
  private final boolean converted;
  /** True when tokenizer_config.json changed tokenizer.json (added tokens, add_bos_token/add_eos_token). */
  private final boolean rewritten;

  private static final List<String> SPECIAL_TOKEN_NAMES = List.of("bos_token", "eos_token", "unk_token", "sep_token",
      "pad_token", "cls_token", "mask_token");
  private static final String GPT2_END_OF_TEXT = "<|endoftext|>";

  Tokenizer(Path folder) {
    this(folder, folder.resolve("tokenizer.json"), folder.resolve("tokenizer_config.json"));
  }

  /** {@code tokenizerJson} may have any name; {@code configFile} (nullable) is read when it exists. */
  Tokenizer(Path folder, Path tokenizerJson, Path configFile) {
    this.folder = folder.toAbsolutePath();
    this.tokenizerJson = tokenizerJson;
    try {
      JsonNode config = configFile != null && Files.isRegularFile(configFile) ? JSON.readTree(configFile.toFile())
          : JSON.createObjectNode();
      Map<String, String> tokens = new java.util.LinkedHashMap<>();
      for (String name : SPECIAL_TOKEN_NAMES) {
        JsonNode t = config.path(name);
        String content = t.isTextual() ? t.asText() : t.isObject() ? t.path("content").asText(null) : null;
        if (content != null) {
          tokens.put(name, content);
        }
      }
      if (Files.isRegularFile(tokenizerJson)) {
        byte[] file = Files.readAllBytes(tokenizerJson);
        String source = configFile != null ? tokenizerJson + " with " + configFile : tokenizerJson.toString();
        this.tokenizerBytes = TokenizerConfigOverrides.apply(file, config, tokens.get("bos_token"),
            tokens.get("eos_token"), source);
        this.converted = false;
        this.rewritten = tokenizerBytes != file;
      } else if (Gpt2VocabFiles.presentIn(folder)) {
        // GPT2Tokenizer's defaults: bos, eos and unk are <|endoftext|> unless the config names others.
        for (String name : List.of("bos_token", "eos_token", "unk_token")) {
          tokens.putIfAbsent(name, GPT2_END_OF_TEXT);
        }
        boolean addBos = config.path("add_bos_token").asBoolean(false);
        this.tokenizerBytes = Gpt2VocabFiles.toTokenizerJson(folder, config.path("add_prefix_space").asBoolean(false),
            tokens.values(), addBos ? tokens.get("bos_token") : null);
        this.converted = true;
        this.rewritten = false;
      } else {
        throw new IllegalArgumentException(folder + " has no tokenizer.json (nor GPT-2's vocab.json + merges.txt)");
      }
      String source = converted ? folder.resolve(Gpt2VocabFiles.VOCAB) + " + " + Gpt2VocabFiles.MERGES
          : tokenizerJson.toString();
      JsonNode tok = JSON.readTree(tokenizerBytes);
      Map<String, Integer> vocab = new HashMap<>();
      JsonNode model = tok.path("model");
      JsonNode v = model.path("vocab");
      if (v.isObject()) {
        Iterator<Map.Entry<String, JsonNode>> it = v.fields();
        while (it.hasNext()) {
          Map.Entry<String, JsonNode> e = it.next();
          vocab.put(e.getKey(), e.getValue().asInt());
        }
      } else if (v.isArray()) {
        for (int i = 0; i < v.size(); i++) {
          vocab.put(v.get(i).get(0).asText(), i); // Unigram: [piece, score] in id order
        }
      }
      Set<Integer> special = new LinkedHashSet<>();
      for (JsonNode added : tok.path("added_tokens")) {
        vocab.put(added.get("content").asText(), added.get("id").asInt());
        if (added.path("special").asBoolean(false)) {
          special.add(added.get("id").asInt());
        }
      }
      int maxId = vocab.values().stream().mapToInt(Integer::intValue).max().orElse(-1);
      this.vocabSize = maxId + 1;
      Map<String, Integer> ids = new HashMap<>();
      for (Map.Entry<String, String> e : tokens.entrySet()) {
        Integer id = vocab.get(e.getValue());
        if (id == null) {
          throw new IllegalArgumentException(configFile + ": " + e.getKey() + " '" + e.getValue()
              + "' is not in the vocabulary of " + source);
        }
        ids.put(e.getKey(), id);
        special.add(id);
      }
      this.specialTokens = Collections.unmodifiableMap(tokens);
      this.specialIds = Collections.unmodifiableMap(ids);
      this.allSpecialIds = Collections.unmodifiableSet(special);
      // transformers' "no limit" default is int(1e30); keep it as Long.MAX_VALUE.
      double max = config.path("model_max_length").asDouble(1e30);
      this.modelMaxLength = max >= 9.2e18 ? Long.MAX_VALUE : (long) max;
      String side = config.path("padding_side").asText("right");
      if (!side.equals("right") && !side.equals("left")) {
        throw new IllegalArgumentException(configFile + ": padding_side must be \"right\" or \"left\", got \"" + side
            + "\"");
      }
      this.paddingSide = side.equals("left") ? Padding.Side.LEFT : Padding.Side.RIGHT;
      byte[] b = configFile != null && Files.isRegularFile(configFile) ? Files.readAllBytes(configFile) : new byte[0];
      this.fingerprint = Fingerprint.of("tokenizer", java.util.Base64.getEncoder().encodeToString(tokenizerBytes),
          java.util.Base64.getEncoder().encodeToString(b));
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot read the tokenizer in " + folder, e);
    }
    instance(0, true); // load now, so that a bad tokenizer.json fails here
  }

  private synchronized HuggingFaceTokenizer instance(int maxLength, boolean addSpecialTokens) {
    String key = maxLength + "/" + addSpecialTokens;
    HuggingFaceTokenizer t = instances.get(key);
    if (t == null) {
      Map<String, String> options = new HashMap<>();
      options.put("addSpecialTokens", String.valueOf(addSpecialTokens));
      options.put("padding", "false");
      if (maxLength > 0) {
        options.put("truncation", "true");
        options.put("maxLength", String.valueOf(maxLength));
      } else {
        options.put("truncation", "false");
      }
      try {
        t = converted || rewritten
            ? HuggingFaceTokenizer.newInstance(new java.io.ByteArrayInputStream(tokenizerBytes), options)
            : HuggingFaceTokenizer.newInstance(tokenizerJson, options);
      } catch (IOException e) {
        throw new UncheckedIOException("Cannot load " + tokenizerJson, e);
      } catch (RuntimeException e) {
        String what = converted ? "the tokenizer built from " + folder.resolve(Gpt2VocabFiles.VOCAB) + " and "
            + Gpt2VocabFiles.MERGES : tokenizerJson.toString();
        throw new IllegalArgumentException(what + " cannot be loaded: " + e.getMessage(), e);
      }
      instances.put(key, t);
    }
    return t;
  }

  /** One encoded text. */
  public record Encoded(int[] inputIds, int[] attentionMask) {}

  /** Encodes with special tokens, without truncation. */
  public Encoded encode(String text) {
    return encode(text, 0, true);
  }

  /** Encodes, truncating to {@code maxLength} tokens when positive. */
  public Encoded encode(String text, int maxLength, boolean addSpecialTokens) {
    if (text == null) {
      throw new NullPointerException("text cannot be null");
    }
    long handle = instance(maxLength, addSpecialTokens).getHandle();
    return takeEncoded(TokenizersLibrary.LIB.encode(handle, text, addSpecialTokens));
  }

  /**
   * The texts encoded by the library's batch call (in parallel natively), in order. Only the ids and the mask
   * are read out of each native encoding: DJL's {@code Encoding} would also copy every token as a String and
   * every character span as an object, which took most of the time for texts of a sentence or two (the ids
   * are the same native ids). Our instances never lower-case (no {@code doLowerCase} option), which is the only
   * thing DJL's own batch call does to the texts first.
   */
  public List<Encoded> encodeBatch(List<String> texts, int maxLength, boolean addSpecialTokens) {
    String[] all = texts.toArray(new String[0]);
    for (String t : all) {
      if (t == null) {
        throw new NullPointerException("input text cannot be null");
      }
    }
    long handle = instance(maxLength, addSpecialTokens).getHandle();
    long[] encodings = TokenizersLibrary.LIB.batchEncode(handle, all, addSpecialTokens);
    List<Encoded> out = new ArrayList<>(encodings.length);
    int k = 0;
    try {
      for (; k < encodings.length; k++) {
        out.add(takeEncoded(encodings[k]));
      }
    } finally {
      for (k++; k < encodings.length; k++) { // freed if reading one failed
        TokenizersLibrary.LIB.deleteEncoding(encodings[k]);
      }
    }
    return out;
  }

  /** The ids and attention mask of a native encoding, which is then freed. */
  private static Encoded takeEncoded(long encoding) {
    try {
      long[] ids = TokenizersLibrary.LIB.getTokenIds(encoding);
      long[] mask = TokenizersLibrary.LIB.getAttentionMask(encoding);
      int[] i = new int[ids.length];
      int[] m = new int[mask.length];
      for (int k = 0; k < ids.length; k++) {
        i[k] = Math.toIntExact(ids[k]);
      }
      for (int k = 0; k < mask.length; k++) {
        m[k] = (int) mask[k];
      }
      return new Encoded(i, m);
    } finally {
      TokenizersLibrary.LIB.deleteEncoding(encoding);
    }
  }

  /** One encoded text with each token's characters {@code [charStarts[k], charEnds[k])} of the text. */
  public record EncodedWithOffsets(int[] inputIds, int[] charStarts, int[] charEnds) {}

  /**
   * Encodes without truncation and tells where each token came from in {@code text} (transformers'
   * {@code offset_mapping}); a token the post-processor added ({@code add_special_tokens}) covers no characters.
   */
  public EncodedWithOffsets encodeWithOffsets(String text, boolean addSpecialTokens) {
    if (text == null) {
      throw new NullPointerException("text cannot be null");
    }
    // Only the ids and the spans read out of the native encoding (see encodeBatch).
    long encoding = TokenizersLibrary.LIB.encode(instance(0, addSpecialTokens).getHandle(), text, addSpecialTokens);
    long[] ids;
    ai.djl.huggingface.tokenizers.jni.CharSpan[] spans;
    try {
      ids = TokenizersLibrary.LIB.getTokenIds(encoding);
      spans = TokenizersLibrary.LIB.getTokenCharSpans(encoding);
    } finally {
      TokenizersLibrary.LIB.deleteEncoding(encoding);
    }
    int[] i = new int[ids.length];
    int[] starts = new int[ids.length];
    int[] ends = new int[ids.length];
    for (int k = 0; k < ids.length; k++) {
      i[k] = Math.toIntExact(ids[k]);
      if (spans[k] != null) {
        starts[k] = spans[k].getStart();
        ends[k] = spans[k].getEnd();
      }
    }
    return new EncodedWithOffsets(i, starts, ends);
  }

  public String decode(int[] ids, boolean skipSpecialTokens) {
    long[] l = new long[ids.length];
    for (int k = 0; k < ids.length; k++) {
      l[k] = ids[k];
    }
    return instance(0, true).decode(l, skipSpecialTokens);
  }

  /** The tokens of {@code text} (without special tokens). */
  public List<String> tokenize(String text) {
    return List.of(instance(0, false).encode(text).getTokens());
  }

  /**
   * Tokenizes {@code column} into {@code input_ids} and {@code attention_mask} (INT32_LIST) through a batched
   * map, cached under this tokenizer's fingerprint; {@code removeColumns} are dropped (often all of them, as
   * Hugging Face's run_clm does). {@code maxLength} > 0 truncates.
   */
  public Dataset tokenize(Dataset dataset, String column, int maxLength, String... removeColumns) {
    MapOptions options = tokenizeOptions(dataset, column, maxLength, removeColumns);
    return dataset.mapBatched(batch -> encodeColumn(batch.get(column), maxLength), options);
  }

  /** Checks that {@code column} is text and gives the cached batched map that tokenizes it. */
  private MapOptions tokenizeOptions(Dataset dataset, String column, int maxLength, String[] removeColumns) {
    if (dataset.features().type(column) != ColumnType.STRING) {
      throw new IllegalArgumentException("Column '" + column + "' is " + dataset.features().type(column)
          + "; only STRING columns can be tokenized");
    }
    return MapOptions.builder()
        .function("tokenize:" + column, fingerprint + "/" + maxLength)
        .removeColumns(removeColumns)
        .features(tokenizedFeatures(dataset.features(), removeColumns))
        .build();
  }

  /** Tokenizers loaded by Spark tasks, one per folder and executor JVM. */
  private static final Map<String, Tokenizer> ON_EXECUTORS = new java.util.concurrent.ConcurrentHashMap<>();

  /**
   * As {@link #tokenize(Dataset, String, int, String...)}, run by Spark tasks in parallel (each executor loads
   * this tokenizer from its folder, which it must reach).
   */
  public Dataset tokenize(org.apache.spark.sql.SparkSession spark, Dataset dataset, String column, int maxLength,
      String... removeColumns) {
    MapOptions options = tokenizeOptions(dataset, column, maxLength, removeColumns);
    String path = folder.toString();
    String key = path + "#" + fingerprint;
    return dataset.mapBatched(spark, batch -> {
      Tokenizer t = ON_EXECUTORS.computeIfAbsent(key, k -> AutoTokenizer.fromPretrained(Path.of(path)));
      return t.encodeColumn(batch.get(column), maxLength);
    }, options);
  }

  private static Features tokenizedFeatures(Features in, String... removed) {
    Features.Builder b = Features.builder();
    List<String> drop = List.of(removed);
    in.asMap().forEach((n, t) -> {
      if (!drop.contains(n) && !n.equals("input_ids") && !n.equals("attention_mask")) {
        b.add(n, t);
      }
    });
    return b.add("input_ids", ColumnType.INT32_LIST).add("attention_mask", ColumnType.INT32_LIST).build();
  }

  private Map<String, List<?>> encodeColumn(List<Object> column, int maxLength) {
    List<String> texts = new ArrayList<>();
    for (Object t : column) {
      texts.add(t == null ? "" : (String) t);
    }
    List<Object> ids = new ArrayList<>(texts.size());
    List<Object> masks = new ArrayList<>(texts.size());
    for (Encoded e : encodeBatch(texts, maxLength, true)) {
      ids.add(e.inputIds());
      masks.add(e.attentionMask());
    }
    Map<String, List<?>> out = new java.util.LinkedHashMap<>();
    out.put("input_ids", ids);
    out.put("attention_mask", masks);
    return out;
  }

  /** The id of a special token by its config name ("pad_token", "eos_token", ...), or null. */
  public Integer specialTokenId(String name) {
    return specialIds.get(name);
  }

  /** The text of a special token by its config name, or null. */
  public String specialToken(String name) {
    return specialTokens.get(name);
  }

  public Integer padTokenId() {
    return specialIds.get("pad_token");
  }

  public Integer eosTokenId() {
    return specialIds.get("eos_token");
  }

  public Integer bosTokenId() {
    return specialIds.get("bos_token");
  }

  public Integer maskTokenId() {
    return specialIds.get("mask_token");
  }

  /** Ids of every special and added special token. */
  public Set<Integer> specialTokenIds() {
    return allSpecialIds;
  }

  /** {@code model_max_length}; Long.MAX_VALUE when the config sets no limit. */
  public long modelMaxLength() {
    return modelMaxLength;
  }

  public Padding.Side paddingSide() {
    return paddingSide;
  }

  public int vocabSize() {
    return vocabSize;
  }

  /** A hash of tokenizer.json and tokenizer_config.json. */
  public String fingerprint() {
    return fingerprint;
  }

  /** Padding for collators: the pad token (or an error when there is none) and this tokenizer's side. */
  public Padding padding() {
    Integer pad = padTokenId();
    if (pad == null) {
      throw new IllegalStateException("The tokenizer has no pad_token: set one in tokenizer_config.json (GPT-2"
          + " models often use the eos_token)");
    }
    return Padding.builder(pad).side(paddingSide).build();
  }

  @Override
  public synchronized void close() {
    instances.values().forEach(HuggingFaceTokenizer::close);
    instances.clear();
  }
}
