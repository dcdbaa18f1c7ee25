package io.sparkformers.training.models.gpt2;

import com.google.gson.JsonArray;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import io.sparkformers.training.models.CausalLmConfig;
import io.sparkformers.training.models.ModelConfig;
import io.sparkformers.training.models.internal.ConfigReader;
import java.util.List;
import java.util.Set;

/**
 * {@code model_type: gpt2}, read as transformers' GPT2Config reads it (including its aliases
 * {@code hidden_size}, {@code num_hidden_layers}, {@code num_attention_heads}, {@code max_position_embeddings}).
 */
public final class Gpt2Config implements CausalLmConfig {
  public static final String MODEL_TYPE = "gpt2";
  static final Set<String> ACTIVATIONS = Set.of("gelu_new", "gelu", "relu", "tanh", "gelu_pytorch_tanh",
      "gelu_fast", "silu", "swish");

  private final int vocabSize;
  private final int nPositions;
  private final int nEmbd;
  private final int nLayer;
  private final int nHead;
  private final Integer nInner;
  private final String activationFunction;
  private final double layerNormEpsilon;
  private final double initializerRange;
  private final double residPdrop;
  private final double embdPdrop;
  private final double attnPdrop;
  private final boolean scaleAttnWeights;
  private final boolean scaleAttnByInverseLayerIdx;
  private final boolean tieWordEmbeddings;
  private final List<Integer> bosTokenId;
  private final List<Integer> eosTokenId;
  private final Integer padTokenId;
  private final JsonObject extra;

  private Gpt2Config(Builder b, String src) {
    ConfigReader.requirePositive(src, "vocab_size", b.vocabSize);
    ConfigReader.requirePositive(src, "n_positions", b.nPositions);
    ConfigReader.requirePositive(src, "n_embd", b.nEmbd);
    ConfigReader.requirePositive(src, "n_layer", b.nLayer);
    ConfigReader.requirePositive(src, "n_head", b.nHead);
    if (b.nEmbd % b.nHead != 0) {
      throw new IllegalArgumentException(src + ": n_embd " + b.nEmbd + " is not divisible by n_head " + b.nHead);
    }
    ConfigReader.oneOf(src, "activation_function", b.activationFunction, ACTIVATIONS);
    this.vocabSize = b.vocabSize;
    this.nPositions = b.nPositions;
    this.nEmbd = b.nEmbd;
    this.nLayer = b.nLayer;
    this.nHead = b.nHead;
    this.nInner = b.nInner;
    this.activationFunction = b.activationFunction;
    this.layerNormEpsilon = b.layerNormEpsilon;
    this.initializerRange = b.initializerRange;
    this.residPdrop = b.residPdrop;
    this.embdPdrop = b.embdPdrop;
    this.attnPdrop = b.attnPdrop;
    this.scaleAttnWeights = b.scaleAttnWeights;
    this.scaleAttnByInverseLayerIdx = b.scaleAttnByInverseLayerIdx;
    this.tieWordEmbeddings = b.tieWordEmbeddings;
    this.bosTokenId = List.copyOf(b.bosTokenId);
    this.eosTokenId = List.copyOf(b.eosTokenId);
    this.padTokenId = b.padTokenId;
    this.extra = b.extra.deepCopy();
  }

  static Gpt2Config read(ConfigReader r) {
    Builder b = builder()
        .vocabSize(r.requireInt("vocab_size"))
        .nPositions(r.requireInt("n_positions", "max_position_embeddings"))
        .nEmbd(r.requireInt("n_embd", "hidden_size"))
        .nLayer(r.requireInt("n_layer", "num_hidden_layers"))
        .nHead(r.requireInt("n_head", "num_attention_heads"))
        .nInner(r.optInteger("n_inner"))
        .activationFunction(r.optString("gelu_new", "activation_function"))
        .layerNormEpsilon(r.optDouble(1e-5, "layer_norm_epsilon"))
        .initializerRange(r.optDouble(0.02, "initializer_range"))
        .residPdrop(r.optDouble(0.1, "resid_pdrop"))
        .embdPdrop(r.optDouble(0.1, "embd_pdrop"))
        .attnPdrop(r.optDouble(0.1, "attn_pdrop"))
        .scaleAttnWeights(r.optBoolean(true, "scale_attn_weights"))
        .scaleAttnByInverseLayerIdx(r.optBoolean(false, "scale_attn_by_inverse_layer_idx"))
        .tieWordEmbeddings(r.optBoolean(true, "tie_word_embeddings"))
        .bosTokenId(r.optTokenIds("bos_token_id"))
        .eosTokenId(r.optTokenIds("eos_token_id"))
        .padTokenId(r.optInteger("pad_token_id"));
    b.extra = r.unreadKeys();
    b.extra.remove("architectures");
    b.extra.remove("model_type");
    return new Gpt2Config(b, r.source());
  }

  public static Builder builder() {
    return new Builder();
  }

  @Override
  public int maxPositions() {
    return nPositions();
  }

  @Override
  public String maxPositionsKey() {
    return "n_positions";
  }

  @Override
  public String modelType() {
    return MODEL_TYPE;
  }

  public int vocabSize() {
    return vocabSize;
  }

  public int nPositions() {
    return nPositions;
  }

  public int nEmbd() {
    return nEmbd;
  }

  public int nLayer() {
    return nLayer;
  }

  public int nHead() {
    return nHead;
  }

  /** The MLP's inner width: {@code n_inner}, or 4 × n_embd when it is null. */
  public int innerSize() {
    return nInner == null ? 4 * nEmbd : nInner;
  }

  public String activationFunction() {
    return activationFunction;
  }

  public double layerNormEpsilon() {
    return layerNormEpsilon;
  }

  public double initializerRange() {
    return initializerRange;
  }

  public double residPdrop() {
    return residPdrop;
  }

  public double embdPdrop() {
    return embdPdrop;
  }

  public double attnPdrop() {
    return attnPdrop;
  }

  public boolean scaleAttnWeights() {
    return scaleAttnWeights;
  }

  public boolean scaleAttnByInverseLayerIdx() {
    return scaleAttnByInverseLayerIdx;
  }

  public boolean tieWordEmbeddings() {
    return tieWordEmbeddings;
  }

  public List<Integer> bosTokenId() {
    return bosTokenId;
  }

  public List<Integer> eosTokenId() {
    return eosTokenId;
  }

  /** {@code pad_token_id}, or null (GPT-2 has none; generation then pads with eos, as transformers does). */
  public Integer padTokenId() {
    return padTokenId;
  }

  @Override
  public JsonObject toJson() {
    JsonObject o = extra.deepCopy();
    o.addProperty("model_type", MODEL_TYPE);
    JsonArray arch = new JsonArray();
    arch.add("GPT2LMHeadModel");
    o.add("architectures", arch);
    o.addProperty("vocab_size", vocabSize);
    o.addProperty("n_positions", nPositions);
    o.addProperty("n_embd", nEmbd);
    o.addProperty("n_layer", nLayer);
    o.addProperty("n_head", nHead);
    if (nInner == null) {
      o.add("n_inner", JsonNull.INSTANCE);
    } else {
      o.addProperty("n_inner", nInner);
    }
    o.addProperty("activation_function", activationFunction);
    o.addProperty("layer_norm_epsilon", layerNormEpsilon);
    o.addProperty("initializer_range", initializerRange);
    o.addProperty("resid_pdrop", residPdrop);
    o.addProperty("embd_pdrop", embdPdrop);
    o.addProperty("attn_pdrop", attnPdrop);
    o.addProperty("scale_attn_weights", scaleAttnWeights);
    o.addProperty("scale_attn_by_inverse_layer_idx", scaleAttnByInverseLayerIdx);
    o.addProperty("tie_word_embeddings", tieWordEmbeddings);
    putIds(o, "bos_token_id", bosTokenId);
    putIds(o, "eos_token_id", eosTokenId);
    if (padTokenId != null) {
      o.addProperty("pad_token_id", padTokenId);
    }
    return o;
  }

  static void putIds(JsonObject o, String key, List<Integer> ids) {
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

  /** Builds a {@link Gpt2Config}; defaults are transformers' GPT2Config defaults except the sizes. */
  public static final class Builder {
    private int vocabSize = 50257;
    private int nPositions = 1024;
    private int nEmbd = 768;
    private int nLayer = 12;
    private int nHead = 12;
    private Integer nInner;
    private String activationFunction = "gelu_new";
    private double layerNormEpsilon = 1e-5;
    private double initializerRange = 0.02;
    private double residPdrop = 0.1;
    private double embdPdrop = 0.1;
    private double attnPdrop = 0.1;
    private boolean scaleAttnWeights = true;
    private boolean scaleAttnByInverseLayerIdx;
    private boolean tieWordEmbeddings = true;
    private List<Integer> bosTokenId = List.of(50256);
    private List<Integer> eosTokenId = List.of(50256);
    private Integer padTokenId;
    private JsonObject extra = new JsonObject();

    public Builder vocabSize(int v) {
      vocabSize = v;
      return this;
    }

    public Builder nPositions(int v) {
      nPositions = v;
      return this;
    }

    public Builder nEmbd(int v) {
      nEmbd = v;
      return this;
    }

    public Builder nLayer(int v) {
      nLayer = v;
      return this;
    }

    public Builder nHead(int v) {
      nHead = v;
      return this;
    }

    public Builder nInner(Integer v) {
      nInner = v;
      return this;
    }

    public Builder activationFunction(String v) {
      activationFunction = v;
      return this;
    }

    public Builder layerNormEpsilon(double v) {
      layerNormEpsilon = v;
      return this;
    }

    public Builder initializerRange(double v) {
      initializerRange = v;
      return this;
    }

    public Builder residPdrop(double v) {
      residPdrop = v;
      return this;
    }

    public Builder embdPdrop(double v) {
      embdPdrop = v;
      return this;
    }

    public Builder attnPdrop(double v) {
      attnPdrop = v;
      return this;
    }

    /** Sets all three dropout probabilities. */
    public Builder dropout(double v) {
      residPdrop = v;
      embdPdrop = v;
      attnPdrop = v;
      return this;
    }

    public Builder scaleAttnWeights(boolean v) {
      scaleAttnWeights = v;
      return this;
    }

    public Builder scaleAttnByInverseLayerIdx(boolean v) {
      scaleAttnByInverseLayerIdx = v;
      return this;
    }

    public Builder tieWordEmbeddings(boolean v) {
      tieWordEmbeddings = v;
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

    public Gpt2Config build() {
      return new Gpt2Config(this, "gpt2 config");
    }
  }
}
