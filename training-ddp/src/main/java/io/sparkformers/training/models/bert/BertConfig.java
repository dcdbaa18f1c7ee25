package io.sparkformers.training.models.bert;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import io.sparkformers.training.models.ModelConfig;
import io.sparkformers.training.models.internal.ConfigReader;
import java.util.Set;

/**
 * {@code model_type: bert}, read as transformers' BertConfig reads it. The number of labels comes from
 * {@code num_labels}, else from the size of {@code id2label}, else 2 (transformers' default).
 */
public final class BertConfig implements ModelConfig {
  public static final String MODEL_TYPE = "bert";
  static final Set<String> ACTIVATIONS = Set.of("gelu", "gelu_new", "relu", "tanh", "gelu_pytorch_tanh", "silu");

  private final int vocabSize;
  private final int hiddenSize;
  private final int numHiddenLayers;
  private final int numAttentionHeads;
  private final int intermediateSize;
  private final String hiddenAct;
  private final double hiddenDropoutProb;
  private final double attentionProbsDropoutProb;
  private final int maxPositionEmbeddings;
  private final int typeVocabSize;
  private final double initializerRange;
  private final double layerNormEps;
  private final int padTokenId;
  private final int numLabels;
  private final String problemType;
  private final Double classifierDropout;
  private final JsonObject extra;

  private BertConfig(Builder b, String src) {
    ConfigReader.requirePositive(src, "vocab_size", b.vocabSize);
    ConfigReader.requirePositive(src, "hidden_size", b.hiddenSize);
    ConfigReader.requirePositive(src, "num_hidden_layers", b.numHiddenLayers);
    ConfigReader.requirePositive(src, "num_attention_heads", b.numAttentionHeads);
    ConfigReader.requirePositive(src, "intermediate_size", b.intermediateSize);
    ConfigReader.requirePositive(src, "max_position_embeddings", b.maxPositionEmbeddings);
    ConfigReader.requirePositive(src, "type_vocab_size", b.typeVocabSize);
    ConfigReader.requirePositive(src, "num_labels", b.numLabels);
    if (b.hiddenSize % b.numAttentionHeads != 0) {
      throw new IllegalArgumentException(src + ": hidden_size " + b.hiddenSize
          + " is not divisible by num_attention_heads " + b.numAttentionHeads);
    }
    ConfigReader.oneOf(src, "hidden_act", b.hiddenAct, ACTIVATIONS);
    if (b.problemType != null) {
      ConfigReader.oneOf(src, "problem_type", b.problemType, io.sparkformers.training.models.internal.ProblemTypes.ALL);
    }
    this.vocabSize = b.vocabSize;
    this.hiddenSize = b.hiddenSize;
    this.numHiddenLayers = b.numHiddenLayers;
    this.numAttentionHeads = b.numAttentionHeads;
    this.intermediateSize = b.intermediateSize;
    this.hiddenAct = b.hiddenAct;
    this.hiddenDropoutProb = b.hiddenDropoutProb;
    this.attentionProbsDropoutProb = b.attentionProbsDropoutProb;
    this.maxPositionEmbeddings = b.maxPositionEmbeddings;
    this.typeVocabSize = b.typeVocabSize;
    this.initializerRange = b.initializerRange;
    this.layerNormEps = b.layerNormEps;
    this.padTokenId = b.padTokenId;
    this.numLabels = b.numLabels;
    this.problemType = b.problemType;
    this.classifierDropout = b.classifierDropout;
    this.extra = b.extra.deepCopy();
  }

  static BertConfig read(ConfigReader r) {
    Builder b = builder()
        .vocabSize(r.requireInt("vocab_size"))
        .hiddenSize(r.requireInt("hidden_size"))
        .numHiddenLayers(r.requireInt("num_hidden_layers"))
        .numAttentionHeads(r.requireInt("num_attention_heads"))
        .intermediateSize(r.requireInt("intermediate_size"))
        .hiddenAct(r.optString("gelu", "hidden_act"))
        .hiddenDropoutProb(r.optDouble(0.1, "hidden_dropout_prob"))
        .attentionProbsDropoutProb(r.optDouble(0.1, "attention_probs_dropout_prob"))
        .maxPositionEmbeddings(r.optInt(512, "max_position_embeddings"))
        .typeVocabSize(r.optInt(2, "type_vocab_size"))
        .initializerRange(r.optDouble(0.02, "initializer_range"))
        .layerNormEps(r.optDouble(1e-12, "layer_norm_eps"))
        .padTokenId(r.optInt(0, "pad_token_id"))
        .problemType(r.optString(null, "problem_type"));
    if (r.has("classifier_dropout")) {
      b.classifierDropout(r.optDouble(0.1, "classifier_dropout"));
    }
    String embeddingType = r.optString("absolute", "position_embedding_type");
    ConfigReader.oneOf(r.source(), "position_embedding_type", embeddingType, Set.of("absolute"));
    b.extra = r.unreadKeys();
    b.extra.remove("architectures");
    b.extra.remove("model_type");
    b.extra.remove("classifier_dropout");
    Integer n = r.optInteger("num_labels");
    b.extra.remove("num_labels");
    if (n == null && b.extra.has("id2label") && b.extra.get("id2label").isJsonObject()) {
      n = b.extra.getAsJsonObject("id2label").size();
    }
    b.numLabels(n == null ? 2 : n);
    return new BertConfig(b, r.source());
  }

  public static Builder builder() {
    return new Builder();
  }

  @Override
  public String modelType() {
    return MODEL_TYPE;
  }

  public int vocabSize() {
    return vocabSize;
  }

  public int hiddenSize() {
    return hiddenSize;
  }

  public int numHiddenLayers() {
    return numHiddenLayers;
  }

  public int numAttentionHeads() {
    return numAttentionHeads;
  }

  public int intermediateSize() {
    return intermediateSize;
  }

  public String hiddenAct() {
    return hiddenAct;
  }

  public double hiddenDropoutProb() {
    return hiddenDropoutProb;
  }

  public double attentionProbsDropoutProb() {
    return attentionProbsDropoutProb;
  }

  public int maxPositionEmbeddings() {
    return maxPositionEmbeddings;
  }

  public int typeVocabSize() {
    return typeVocabSize;
  }

  public double initializerRange() {
    return initializerRange;
  }

  public double layerNormEps() {
    return layerNormEps;
  }

  public int padTokenId() {
    return padTokenId;
  }

  public int numLabels() {
    return numLabels;
  }

  public String problemType() {
    return problemType;
  }

  /** The classifier's dropout: {@code classifier_dropout}, or {@code hidden_dropout_prob} when null. */
  public double classifierDropout() {
    return classifierDropout == null ? hiddenDropoutProb : classifierDropout;
  }

  @Override
  public JsonObject toJson() {
    JsonObject o = extra.deepCopy();
    o.addProperty("model_type", MODEL_TYPE);
    JsonArray arch = new JsonArray();
    arch.add("BertForSequenceClassification");
    o.add("architectures", arch);
    o.addProperty("vocab_size", vocabSize);
    o.addProperty("hidden_size", hiddenSize);
    o.addProperty("num_hidden_layers", numHiddenLayers);
    o.addProperty("num_attention_heads", numAttentionHeads);
    o.addProperty("intermediate_size", intermediateSize);
    o.addProperty("hidden_act", hiddenAct);
    o.addProperty("hidden_dropout_prob", hiddenDropoutProb);
    o.addProperty("attention_probs_dropout_prob", attentionProbsDropoutProb);
    o.addProperty("max_position_embeddings", maxPositionEmbeddings);
    o.addProperty("type_vocab_size", typeVocabSize);
    o.addProperty("initializer_range", initializerRange);
    o.addProperty("layer_norm_eps", layerNormEps);
    o.addProperty("pad_token_id", padTokenId);
    o.addProperty("position_embedding_type", "absolute");
    if (classifierDropout != null) {
      o.addProperty("classifier_dropout", classifierDropout);
    }
    if (problemType != null) {
      o.addProperty("problem_type", problemType);
    }
    // transformers derives num_labels from id2label: write the labels when they are not already there.
    if (!o.has("id2label") || o.getAsJsonObject("id2label").size() != numLabels) {
      JsonObject id2label = new JsonObject();
      JsonObject label2id = new JsonObject();
      for (int i = 0; i < numLabels; i++) {
        id2label.addProperty(Integer.toString(i), "LABEL_" + i);
        label2id.addProperty("LABEL_" + i, i);
      }
      o.add("id2label", id2label);
      o.add("label2id", label2id);
    }
    return o;
  }

  private Object writeReplace() {
    return new Serialized(this); // the kept JSON is not serializable: travel as config.json text
  }

  @Override
  public String toString() {
    return toJson().toString();
  }

  /** Builds a {@link BertConfig}; defaults are transformers' BertConfig defaults (bert-base sizes). */
  public static final class Builder {
    private int vocabSize = 30522;
    private int hiddenSize = 768;
    private int numHiddenLayers = 12;
    private int numAttentionHeads = 12;
    private int intermediateSize = 3072;
    private String hiddenAct = "gelu";
    private double hiddenDropoutProb = 0.1;
    private double attentionProbsDropoutProb = 0.1;
    private int maxPositionEmbeddings = 512;
    private int typeVocabSize = 2;
    private double initializerRange = 0.02;
    private double layerNormEps = 1e-12;
    private int padTokenId;
    private int numLabels = 2;
    private String problemType;
    private Double classifierDropout;
    private JsonObject extra = new JsonObject();

    public Builder vocabSize(int v) {
      vocabSize = v;
      return this;
    }

    public Builder hiddenSize(int v) {
      hiddenSize = v;
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

    public Builder intermediateSize(int v) {
      intermediateSize = v;
      return this;
    }

    public Builder hiddenAct(String v) {
      hiddenAct = v;
      return this;
    }

    public Builder hiddenDropoutProb(double v) {
      hiddenDropoutProb = v;
      return this;
    }

    public Builder attentionProbsDropoutProb(double v) {
      attentionProbsDropoutProb = v;
      return this;
    }

    public Builder maxPositionEmbeddings(int v) {
      maxPositionEmbeddings = v;
      return this;
    }

    public Builder typeVocabSize(int v) {
      typeVocabSize = v;
      return this;
    }

    public Builder initializerRange(double v) {
      initializerRange = v;
      return this;
    }

    public Builder layerNormEps(double v) {
      layerNormEps = v;
      return this;
    }

    public Builder padTokenId(int v) {
      padTokenId = v;
      return this;
    }

    public Builder numLabels(int v) {
      numLabels = v;
      return this;
    }

    public Builder problemType(String v) {
      problemType = v;
      return this;
    }

    public Builder classifierDropout(Double v) {
      classifierDropout = v;
      return this;
    }

    public BertConfig build() {
      return new BertConfig(this, "bert config");
    }
  }
}
