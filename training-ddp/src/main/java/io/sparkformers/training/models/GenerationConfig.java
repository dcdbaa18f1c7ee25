package io.sparkformers.training.models;

import java.io.Serializable;
import java.util.List;

/**
 * How {@link CausalLM#generate} decodes, with transformers' names and defaults: greedy unless
 * {@code doSample}; sampling applies {@code repetition_penalty} (also in greedy mode), then temperature, top_k
 * (default 50, as transformers) and top_p. Sampling draws from a generator seeded by {@code seed}, so the same
 * seed gives the same tokens. eos and pad ids default to the model config's (pad falls back to the first eos,
 * as transformers does for GPT-2).
 */
public final class GenerationConfig implements Serializable {
  private static final long serialVersionUID = 1L;

  private final int maxNewTokens;
  private final boolean doSample;
  private final double temperature;
  private final int topK;
  private final double topP;
  private final double repetitionPenalty;
  private final List<Integer> eosTokenIds;
  private final Integer padTokenId;
  private final long seed;
  private final boolean useCache;
  // Keys of a generation_config.json this class does not interpret (bos_token_id, transformers_version, ...), as
  // JSON text, written back by save().
  private final String otherKeys;

  private GenerationConfig(Builder b) {
    if (b.maxNewTokens < 0) {
      throw new IllegalArgumentException("max_new_tokens must be >= 0, got " + b.maxNewTokens);
    }
    if (!(b.temperature > 0) || Double.isInfinite(b.temperature)) {
      throw new IllegalArgumentException("temperature must be a positive number, got " + b.temperature);
    }
    if (b.topK < 0) {
      throw new IllegalArgumentException("top_k must be >= 0 (0 disables it), got " + b.topK);
    }
    if (!(b.topP > 0 && b.topP <= 1)) {
      throw new IllegalArgumentException("top_p must be in (0, 1], got " + b.topP);
    }
    if (!(b.repetitionPenalty > 0)) {
      throw new IllegalArgumentException("repetition_penalty must be a positive number, got "
          + b.repetitionPenalty);
    }
    this.maxNewTokens = b.maxNewTokens;
    this.doSample = b.doSample;
    this.temperature = b.temperature;
    this.topK = b.topK;
    this.topP = b.topP;
    this.repetitionPenalty = b.repetitionPenalty;
    this.eosTokenIds = b.eosTokenIds == null ? null : List.copyOf(b.eosTokenIds);
    this.padTokenId = b.padTokenId;
    this.seed = b.seed;
    this.useCache = b.useCache;
    this.otherKeys = b.otherKeys;
  }

  public static Builder builder() {
    return new Builder();
  }

  /**
   * The defaults a model folder sets in {@code generation_config.json} (as transformers' {@code generate} uses
   * them): max_new_tokens, do_sample, temperature, top_k, top_p, repetition_penalty, eos_token_id,
   * pad_token_id, use_cache. Without the file, transformers' defaults. Other keys do not change decoding here;
   * they are kept and written back by {@link #save}.
   */
  public static Builder fromPretrained(java.nio.file.Path folder) throws java.io.IOException {
    java.nio.file.Path file = folder.resolve("generation_config.json");
    Builder b = builder();
    if (!java.nio.file.Files.exists(file)) {
      return b;
    }
    io.sparkformers.training.models.internal.ConfigReader r = new io.sparkformers.training.models.internal
        .ConfigReader(io.sparkformers.training.models.internal.ConfigReader.parseObject(file), file.toString());
    b.maxNewTokens(r.optInt(b.maxNewTokens, "max_new_tokens"));
    b.doSample(r.optBoolean(false, "do_sample"));
    b.temperature(r.optDouble(1.0, "temperature"));
    b.topK(r.optInt(50, "top_k"));
    b.topP(r.optDouble(1.0, "top_p"));
    b.repetitionPenalty(r.optDouble(1.0, "repetition_penalty"));
    if (r.has("eos_token_id")) {
      b.eosTokenIds(r.optTokenIds("eos_token_id"));
    }
    b.padTokenId(r.optInteger("pad_token_id"));
    b.useCache(r.optBoolean(true, "use_cache"));
    b.otherKeys = r.unreadKeys().toString();
    try {
      b.build();
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
    }
    return b;
  }

  /**
   * Writes {@code folder/generation_config.json} as transformers' {@code GenerationConfig.save_pretrained} does:
   * the values that differ from the defaults (eos and pad ids when set), the keys read but not interpreted, keys
   * sorted, indented by 2. The seed is not a transformers setting and is not written.
   */
  public void save(java.nio.file.Path folder) throws java.io.IOException {
    com.google.gson.JsonObject o = otherKeys == null ? new com.google.gson.JsonObject()
        : com.google.gson.JsonParser.parseString(otherKeys).getAsJsonObject();
    Builder defaults = builder();
    if (maxNewTokens != defaults.maxNewTokens) {
      o.addProperty("max_new_tokens", maxNewTokens);
    }
    if (doSample) {
      o.addProperty("do_sample", true);
    }
    if (temperature != defaults.temperature) {
      o.addProperty("temperature", temperature);
    }
    if (topK != defaults.topK) {
      o.addProperty("top_k", topK);
    }
    if (topP != defaults.topP) {
      o.addProperty("top_p", topP);
    }
    if (repetitionPenalty != defaults.repetitionPenalty) {
      o.addProperty("repetition_penalty", repetitionPenalty);
    }
    if (eosTokenIds != null) {
      if (eosTokenIds.size() == 1) {
        o.addProperty("eos_token_id", eosTokenIds.get(0));
      } else {
        com.google.gson.JsonArray a = new com.google.gson.JsonArray();
        eosTokenIds.forEach(a::add);
        o.add("eos_token_id", a);
      }
    }
    if (padTokenId != null) {
      o.addProperty("pad_token_id", padTokenId);
    }
    if (!useCache) {
      o.addProperty("use_cache", false);
    } else if (otherKeys != null) { // read from a file, which transformers writes use_cache into
      o.addProperty("use_cache", true);
    }
    com.google.gson.JsonObject sorted = new com.google.gson.JsonObject();
    o.keySet().stream().sorted().forEach(k -> sorted.add(k, o.get(k)));
    java.nio.file.Files.createDirectories(folder);
    java.nio.file.Files.writeString(folder.resolve("generation_config.json"),
        new com.google.gson.GsonBuilder().setPrettyPrinting().serializeNulls().disableHtmlEscaping().create()
            .toJson(sorted) + "\n", java.nio.charset.StandardCharsets.UTF_8);
  }

  public static GenerationConfig greedy(int maxNewTokens) {
    return builder().maxNewTokens(maxNewTokens).build();
  }

  public int maxNewTokens() {
    return maxNewTokens;
  }

  public boolean doSample() {
    return doSample;
  }

  public double temperature() {
    return temperature;
  }

  public int topK() {
    return topK;
  }

  public double topP() {
    return topP;
  }

  public double repetitionPenalty() {
    return repetitionPenalty;
  }

  /** eos ids, or null to take the model config's. */
  public List<Integer> eosTokenIds() {
    return eosTokenIds;
  }

  /** pad id, or null to take the model config's (else the first eos). */
  public Integer padTokenId() {
    return padTokenId;
  }

  public long seed() {
    return seed;
  }

  public boolean useCache() {
    return useCache;
  }

  public Builder toBuilder() {
    Builder b = new Builder();
    b.maxNewTokens = maxNewTokens;
    b.doSample = doSample;
    b.temperature = temperature;
    b.topK = topK;
    b.topP = topP;
    b.repetitionPenalty = repetitionPenalty;
    b.eosTokenIds = eosTokenIds;
    b.padTokenId = padTokenId;
    b.seed = seed;
    b.useCache = useCache;
    b.otherKeys = otherKeys;
    return b;
  }

  /** Builds a {@link GenerationConfig}; defaults are transformers' (max_new_tokens 20, greedy, top_k 50). */
  public static final class Builder {
    private int maxNewTokens = 20;
    private boolean doSample;
    private double temperature = 1.0;
    private int topK = 50;
    private double topP = 1.0;
    private double repetitionPenalty = 1.0;
    private List<Integer> eosTokenIds;
    private Integer padTokenId;
    private long seed;
    private boolean useCache = true;
    private String otherKeys;

    public Builder maxNewTokens(int v) {
      maxNewTokens = v;
      return this;
    }

    public Builder doSample(boolean v) {
      doSample = v;
      return this;
    }

    public Builder temperature(double v) {
      temperature = v;
      return this;
    }

    public Builder topK(int v) {
      topK = v;
      return this;
    }

    public Builder topP(double v) {
      topP = v;
      return this;
    }

    public Builder repetitionPenalty(double v) {
      repetitionPenalty = v;
      return this;
    }

    /** Generation stops for a row at any of these ids; an empty list disables stopping on eos. */
    public Builder eosTokenIds(List<Integer> v) {
      eosTokenIds = v;
      return this;
    }

    public Builder padTokenId(Integer v) {
      padTokenId = v;
      return this;
    }

    public Builder seed(long v) {
      seed = v;
      return this;
    }

    /** With false, every step recomputes the whole sequence (the same tokens, slower). */
    public Builder useCache(boolean v) {
      useCache = v;
      return this;
    }

    public GenerationConfig build() {
      return new GenerationConfig(this);
    }
  }
}
