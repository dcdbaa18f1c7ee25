package io.sparkformers.training.models.llama;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import io.sparkformers.training.models.CausalLmConfig;
import io.sparkformers.training.models.ModelConfig;
import io.sparkformers.training.models.internal.ConfigReader;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The config of a Llama-style decoder, read as transformers' {@code LlamaConfig}, {@code Qwen2Config} and
 * {@code MistralConfig} read theirs ({@link Variant} says which): RMSNorm, rotary embeddings, grouped-query
 * attention, a SwiGLU MLP. Both config.json layouts are read: the classic one ({@code rope_theta},
 * {@code rope_scaling}) and transformers 5's ({@code rope_parameters}); the config is written back in the layout
 * it was read in. Options this implementation does not compute are errors naming the key; unknown keys are kept.
 */
public final class LlamaConfig implements CausalLmConfig {

  /** The three model types this decoder computes, with what differs between them. */
  public enum Variant {
    /** transformers' LlamaForCausalLM: biases set by attention_bias (all four projections) and mlp_bias. */
    LLAMA("llama", "LlamaForCausalLM", 1e-6),
    /** Qwen2ForCausalLM: q/k/v projections always with bias, o_proj and the MLP without. */
    QWEN2("qwen2", "Qwen2ForCausalLM", 1e-6),
    /** MistralForCausalLM: no biases; a sliding window over the attention. */
    MISTRAL("mistral", "MistralForCausalLM", 1e-6);

    private final String modelType;
    private final String architecture;
    private final double defaultRmsNormEps;

    Variant(String modelType, String architecture, double defaultRmsNormEps) {
      this.modelType = modelType;
      this.architecture = architecture;
      this.defaultRmsNormEps = defaultRmsNormEps;
    }

    public String modelType() {
      return modelType;
    }

    /** The class name transformers writes in {@code architectures}. */
    public String architecture() {
      return architecture;
    }
  }

  static final Set<String> ACTIVATIONS = Set.of("silu", "swish", "gelu", "gelu_new", "gelu_pytorch_tanh",
      "gelu_fast", "relu", "tanh", "sigmoid");
  static final Set<String> LAYER_TYPES = Set.of("full_attention", "sliding_attention");

  /** Keys transformers reads that change the computation in ways this decoder does not implement. */
  private static final List<String> UNSUPPORTED = List.of("quantization_config", "rope_interleaved");

  private final Variant variant;
  private final int vocabSize;
  private final int hiddenSize;
  private final int intermediateSize;
  private final int numHiddenLayers;
  private final int numAttentionHeads;
  private final int numKeyValueHeads;
  private final Integer headDim;
  private final String hiddenAct;
  private final int maxPositionEmbeddings;
  private final double initializerRange;
  private final double rmsNormEps;
  private final boolean tieWordEmbeddings;
  private final boolean attentionBias;
  private final boolean mlpBias;
  private final double attentionDropout;
  private final RopeParameters rope;
  private final boolean ropeParametersLayout;
  private final Integer slidingWindow;
  private final Boolean useSlidingWindow;
  private final Integer maxWindowLayers;
  private final List<String> layerTypes;
  private final List<Integer> bosTokenId;
  private final List<Integer> eosTokenId;
  private final Integer padTokenId;
  private final JsonObject extra;

  private LlamaConfig(Builder b, String src) {
    ConfigReader.requirePositive(src, "vocab_size", b.vocabSize);
    ConfigReader.requirePositive(src, "hidden_size", b.hiddenSize);
    ConfigReader.requirePositive(src, "intermediate_size", b.intermediateSize);
    ConfigReader.requirePositive(src, "num_hidden_layers", b.numHiddenLayers);
    ConfigReader.requirePositive(src, "num_attention_heads", b.numAttentionHeads);
    ConfigReader.requirePositive(src, "max_position_embeddings", b.maxPositionEmbeddings);
    int kv = b.numKeyValueHeads == null ? b.numAttentionHeads : b.numKeyValueHeads;
    ConfigReader.requirePositive(src, "num_key_value_heads", kv);
    if (b.numAttentionHeads % kv != 0) {
      throw new IllegalArgumentException(src + ": num_attention_heads " + b.numAttentionHeads
          + " is not divisible by num_key_value_heads " + kv);
    }
    if (b.headDim == null && b.hiddenSize % b.numAttentionHeads != 0) {
      throw new IllegalArgumentException(src + ": hidden_size " + b.hiddenSize + " is not divisible by"
          + " num_attention_heads " + b.numAttentionHeads + " (set head_dim)");
    }
    int hd = b.headDim == null ? b.hiddenSize / b.numAttentionHeads : b.headDim;
    ConfigReader.requirePositive(src, "head_dim", hd);
    if (hd % 2 != 0) {
      throw new IllegalArgumentException(src + ": head_dim " + hd + " must be even (rotary embeddings rotate pairs)");
    }
    ConfigReader.oneOf(src, "hidden_act", b.hiddenAct, ACTIVATIONS);
    if (b.slidingWindow != null) {
      ConfigReader.requirePositive(src, "sliding_window", b.slidingWindow);
    }
    if (b.layerTypes != null) {
      if (b.layerTypes.size() != b.numHiddenLayers) {
        throw new IllegalArgumentException(src + ": key 'layer_types' has " + b.layerTypes.size()
            + " entries, expected num_hidden_layers (" + b.numHiddenLayers + ")");
      }
      for (String t : b.layerTypes) {
        ConfigReader.oneOf(src, "layer_types", t, LAYER_TYPES);
      }
    }
    this.variant = b.variant;
    this.vocabSize = b.vocabSize;
    this.hiddenSize = b.hiddenSize;
    this.intermediateSize = b.intermediateSize;
    this.numHiddenLayers = b.numHiddenLayers;
    this.numAttentionHeads = b.numAttentionHeads;
    this.numKeyValueHeads = kv;
    this.headDim = b.headDim;
    this.hiddenAct = b.hiddenAct;
    this.maxPositionEmbeddings = b.maxPositionEmbeddings;
    this.initializerRange = b.initializerRange;
    this.rmsNormEps = b.rmsNormEps == null ? b.variant.defaultRmsNormEps : b.rmsNormEps;
    this.tieWordEmbeddings = b.tieWordEmbeddings;
    this.attentionBias = b.attentionBias;
    this.mlpBias = b.mlpBias;
    this.attentionDropout = b.attentionDropout;
    this.rope = b.rope;
    this.ropeParametersLayout = b.ropeParametersLayout;
    this.slidingWindow = b.slidingWindow;
    this.useSlidingWindow = b.useSlidingWindow;
    this.maxWindowLayers = b.maxWindowLayers;
    this.layerTypes = b.layerTypes == null ? null : List.copyOf(b.layerTypes);
    this.bosTokenId = List.copyOf(b.bosTokenId);
    this.eosTokenId = List.copyOf(b.eosTokenId);
    this.padTokenId = b.padTokenId;
    this.extra = b.extra.deepCopy();
  }

  /** Reads a config.json of {@code variant}'s model_type. */
  public static LlamaConfig read(ConfigReader r, Variant variant) {
    String src = r.source();
    for (String key : UNSUPPORTED) {
      if (r.has(key)) {
        throw new IllegalArgumentException(src + ": key '" + key + "' is not supported by the " + variant.modelType
            + " decoder (found " + r.optElement(key) + ")");
      }
    }
    Builder b = builder(variant)
        .vocabSize(r.requireInt("vocab_size"))
        .hiddenSize(r.requireInt("hidden_size"))
        .intermediateSize(r.requireInt("intermediate_size"))
        .numHiddenLayers(r.requireInt("num_hidden_layers"))
        .numAttentionHeads(r.requireInt("num_attention_heads"))
        .numKeyValueHeads(r.optInteger("num_key_value_heads"))
        .headDim(r.optInteger("head_dim"))
        .hiddenAct(r.optString("silu", "hidden_act"))
        .maxPositionEmbeddings(r.requireInt("max_position_embeddings"))
        .initializerRange(r.optDouble(0.02, "initializer_range"))
        .rmsNormEps(r.optDouble(variant.defaultRmsNormEps, "rms_norm_eps"))
        .tieWordEmbeddings(r.optBoolean(false, "tie_word_embeddings"))
        .attentionDropout(r.optDouble(0.0, "attention_dropout"))
        .bosTokenId(r.optTokenIds("bos_token_id"))
        .eosTokenId(r.optTokenIds("eos_token_id"))
        .padTokenId(r.optInteger("pad_token_id"));
    if (variant == Variant.LLAMA) {
      b.attentionBias(r.optBoolean(false, "attention_bias")).mlpBias(r.optBoolean(false, "mlp_bias"));
    } else if (variant == Variant.QWEN2) {
      b.useSlidingWindow(r.optBoolean(false, "use_sliding_window"));
      b.maxWindowLayers(r.optInteger("max_window_layers"));
    }
    if (variant != Variant.LLAMA) {
      b.slidingWindow(r.optInteger("sliding_window"));
      JsonElement layerTypes = r.optElement("layer_types");
      if (layerTypes != null) {
        b.layerTypes(stringList(src, "layer_types", layerTypes));
      }
    }
    readRope(r, b);
    b.extra = r.unreadKeys();
    b.extra.remove("architectures");
    b.extra.remove("model_type");
    return new LlamaConfig(b, src);
  }

  /** The two layouts of rotary settings; both present is an error, since they could disagree. */
  private static void readRope(ConfigReader r, Builder b) {
    String src = r.source();
    double theta = r.optDouble(10000.0, "rope_theta");
    JsonElement parameters = r.optElement("rope_parameters");
    JsonElement scaling = r.optElement("rope_scaling");
    boolean hasParameters = parameters != null;
    boolean hasScaling = scaling != null;
    if (hasParameters && hasScaling) {
      throw new IllegalArgumentException(src + ": keys 'rope_parameters' and 'rope_scaling' are both set: use one"
          + " (transformers 5 writes rope_parameters, earlier versions rope_theta and rope_scaling)");
    }
    if (hasParameters) {
      if (!parameters.isJsonObject()) {
        throw new IllegalArgumentException(src + ": key 'rope_parameters' must be an object, found " + parameters);
      }
      b.rope(RopeParameters.read(src, "rope_parameters", parameters.getAsJsonObject(), theta));
      b.ropeParametersLayout(true);
    } else if (hasScaling) {
      if (!scaling.isJsonObject()) {
        throw new IllegalArgumentException(src + ": key 'rope_scaling' must be an object or null, found " + scaling);
      }
      b.rope(RopeParameters.read(src, "rope_scaling", scaling.getAsJsonObject(), theta));
    } else {
      b.rope(RopeParameters.standard(theta));
    }
  }

  private static List<String> stringList(String src, String key, JsonElement e) {
    if (!e.isJsonArray()) {
      throw new IllegalArgumentException(src + ": key '" + key + "' must be a list of strings, found " + e);
    }
    List<String> out = new ArrayList<>();
    for (JsonElement x : e.getAsJsonArray()) {
      if (!x.isJsonPrimitive() || !x.getAsJsonPrimitive().isString()) {
        throw new IllegalArgumentException(src + ": key '" + key + "' must be a list of strings, found " + e);
      }
      out.add(x.getAsString());
    }
    return out;
  }

  public static Builder builder(Variant variant) {
    return new Builder(variant);
  }

  /** A Llama config builder (model_type llama). */
  public static Builder builder() {
    return new Builder(Variant.LLAMA);
  }

  public Variant variant() {
    return variant;
  }

  @Override
  public int maxPositions() {
    return maxPositionEmbeddings();
  }

  @Override
  public String maxPositionsKey() {
    return "max_position_embeddings";
  }

  @Override
  public String modelType() {
    return variant.modelType;
  }

  public int vocabSize() {
    return vocabSize;
  }

  public int hiddenSize() {
    return hiddenSize;
  }

  public int intermediateSize() {
    return intermediateSize;
  }

  public int numHiddenLayers() {
    return numHiddenLayers;
  }

  public int numAttentionHeads() {
    return numAttentionHeads;
  }

  public int numKeyValueHeads() {
    return numKeyValueHeads;
  }

  /** {@code head_dim}, or hidden_size / num_attention_heads when absent. */
  public int headDim() {
    return headDim == null ? hiddenSize / numAttentionHeads : headDim;
  }

  public String hiddenAct() {
    return hiddenAct;
  }

  public int maxPositionEmbeddings() {
    return maxPositionEmbeddings;
  }

  public double initializerRange() {
    return initializerRange;
  }

  public double rmsNormEps() {
    return rmsNormEps;
  }

  public boolean tieWordEmbeddings() {
    return tieWordEmbeddings;
  }

  /** Whether q/k/v_proj have a bias: attention_bias for Llama, always for Qwen2. */
  public boolean qkvBias() {
    return variant == Variant.QWEN2 || (variant == Variant.LLAMA && attentionBias);
  }

  /** Whether o_proj has a bias: attention_bias for Llama only. */
  public boolean outputBias() {
    return variant == Variant.LLAMA && attentionBias;
  }

  public boolean mlpBias() {
    return variant == Variant.LLAMA && mlpBias;
  }

  public double attentionDropout() {
    return attentionDropout;
  }

  public RopeParameters rope() {
    return rope;
  }

  /**
   * The attention window of the layers that slide, or null when every layer attends to all earlier positions:
   * Mistral's {@code sliding_window}; Qwen2's when {@code use_sliding_window} is true and a layer is
   * {@code sliding_attention} ({@code layer_types}, or layers from {@code max_window_layers} on).
   */
  public Integer effectiveSlidingWindow() {
    Integer window = variant == Variant.QWEN2 && !Boolean.TRUE.equals(useSlidingWindow) ? null : slidingWindow;
    if (window == null) {
      return null;
    }
    if (layerTypes != null) {
      return layerTypes.contains("sliding_attention") ? window : null;
    }
    if (variant == Variant.QWEN2) {
      int from = maxWindowLayers == null ? 28 : maxWindowLayers;
      return from < numHiddenLayers ? window : null;
    }
    return window;
  }

  public List<Integer> bosTokenId() {
    return bosTokenId;
  }

  public List<Integer> eosTokenId() {
    return eosTokenId;
  }

  public Integer padTokenId() {
    return padTokenId;
  }

  @Override
  public JsonObject toJson() {
    JsonObject o = extra.deepCopy();
    o.addProperty("model_type", variant.modelType);
    JsonArray arch = new JsonArray();
    arch.add(variant.architecture);
    o.add("architectures", arch);
    o.addProperty("vocab_size", vocabSize);
    o.addProperty("hidden_size", hiddenSize);
    o.addProperty("intermediate_size", intermediateSize);
    o.addProperty("num_hidden_layers", numHiddenLayers);
    o.addProperty("num_attention_heads", numAttentionHeads);
    o.addProperty("num_key_value_heads", numKeyValueHeads);
    if (headDim != null) {
      o.addProperty("head_dim", headDim);
    }
    o.addProperty("hidden_act", hiddenAct);
    o.addProperty("max_position_embeddings", maxPositionEmbeddings);
    o.addProperty("initializer_range", initializerRange);
    o.addProperty("rms_norm_eps", rmsNormEps);
    o.addProperty("tie_word_embeddings", tieWordEmbeddings);
    o.addProperty("attention_dropout", attentionDropout);
    if (variant == Variant.LLAMA) {
      o.addProperty("attention_bias", attentionBias);
      o.addProperty("mlp_bias", mlpBias);
    }
    if (variant == Variant.QWEN2) {
      o.addProperty("use_sliding_window", Boolean.TRUE.equals(useSlidingWindow));
      if (maxWindowLayers != null) {
        o.addProperty("max_window_layers", maxWindowLayers);
      }
    }
    if (variant != Variant.LLAMA) {
      o.add("sliding_window", slidingWindow == null ? JsonNull.INSTANCE : ConfigReader.number(slidingWindow));
      if (layerTypes != null) {
        JsonArray types = new JsonArray();
        layerTypes.forEach(types::add);
        o.add("layer_types", types);
      }
    }
    if (ropeParametersLayout) {
      o.add("rope_parameters", rope.toJson(true));
    } else {
      o.add("rope_theta", ConfigReader.number(rope.theta()));
      o.add("rope_scaling", rope.type().equals("default") ? JsonNull.INSTANCE : rope.toJson(false));
    }
    putIds(o, "bos_token_id", bosTokenId);
    putIds(o, "eos_token_id", eosTokenId);
    o.add("pad_token_id", padTokenId == null ? JsonNull.INSTANCE : ConfigReader.number(padTokenId));
    return o;
  }

  private static void putIds(JsonObject o, String key, List<Integer> ids) {
    if (ids.size() == 1) {
      o.addProperty(key, ids.get(0));
    } else if (ids.size() > 1) {
      JsonArray a = new JsonArray();
      ids.forEach(a::add);
      o.add(key, a);
    }
  }

  private Object writeReplace() {
    return new Serialized(this); // the kept JSON is not serializable: travel as config.json text
  }

  @Override
  public String toString() {
    return toJson().toString();
  }

  /** Builds a {@link LlamaConfig}; defaults are transformers' LlamaConfig defaults except the sizes. */
  public static final class Builder {
    private final Variant variant;
    private int vocabSize = 32000;
    private int hiddenSize = 256;
    private int intermediateSize = 688;
    private int numHiddenLayers = 4;
    private int numAttentionHeads = 4;
    private Integer numKeyValueHeads;
    private Integer headDim;
    private String hiddenAct = "silu";
    private int maxPositionEmbeddings = 2048;
    private double initializerRange = 0.02;
    private Double rmsNormEps;
    private boolean tieWordEmbeddings;
    private boolean attentionBias;
    private boolean mlpBias;
    private double attentionDropout;
    private RopeParameters rope = RopeParameters.standard(10000.0);
    private boolean ropeParametersLayout;
    private Integer slidingWindow;
    private Boolean useSlidingWindow;
    private Integer maxWindowLayers;
    private List<String> layerTypes;
    private List<Integer> bosTokenId = List.of(1);
    private List<Integer> eosTokenId = List.of(2);
    private Integer padTokenId;
    private JsonObject extra = new JsonObject();

    private Builder(Variant variant) {
      this.variant = variant;
    }

    public Builder vocabSize(int v) {
      vocabSize = v;
      return this;
    }

    public Builder hiddenSize(int v) {
      hiddenSize = v;
      return this;
    }

    public Builder intermediateSize(int v) {
      intermediateSize = v;
      return this;
    }

    public Builder numHiddenLayers(int v) {
      numHiddenLayers = v;
      return this;
    }

    public Builder numAttentionHeads(int v) {
      numAttentionHeads = v;
      return this;
    }

    /** null: as many as the attention heads (no grouping). */
    public Builder numKeyValueHeads(Integer v) {
      numKeyValueHeads = v;
      return this;
    }

    /** null: hidden_size / num_attention_heads. */
    public Builder headDim(Integer v) {
      headDim = v;
      return this;
    }

    public Builder hiddenAct(String v) {
      hiddenAct = v;
      return this;
    }

    public Builder maxPositionEmbeddings(int v) {
      maxPositionEmbeddings = v;
      return this;
    }

    public Builder initializerRange(double v) {
      initializerRange = v;
      return this;
    }

    public Builder rmsNormEps(double v) {
      rmsNormEps = v;
      return this;
    }

    public Builder tieWordEmbeddings(boolean v) {
      tieWordEmbeddings = v;
      return this;
    }

    public Builder attentionBias(boolean v) {
      attentionBias = v;
      return this;
    }

    public Builder mlpBias(boolean v) {
      mlpBias = v;
      return this;
    }

    public Builder attentionDropout(double v) {
      attentionDropout = v;
      return this;
    }

    public Builder rope(RopeParameters v) {
      rope = v;
      return this;
    }

    /** Whether config.json is written with transformers 5's {@code rope_parameters} (else rope_theta/rope_scaling). */
    public Builder ropeParametersLayout(boolean v) {
      ropeParametersLayout = v;
      return this;
    }

    public Builder slidingWindow(Integer v) {
      slidingWindow = v;
      return this;
    }

    public Builder useSlidingWindow(Boolean v) {
      useSlidingWindow = v;
      return this;
    }

    public Builder maxWindowLayers(Integer v) {
      maxWindowLayers = v;
      return this;
    }

    public Builder layerTypes(List<String> v) {
      layerTypes = v;
      return this;
    }

    public Builder bosTokenId(List<Integer> v) {
      bosTokenId = v;
      return this;
    }

    public Builder eosTokenId(List<Integer> v) {
      eosTokenId = v;
      return this;
    }

    public Builder padTokenId(Integer v) {
      padTokenId = v;
      return this;
    }

    public LlamaConfig build() {
      return new LlamaConfig(this, variant.modelType + " config");
    }
  }
}
