package io.sparkformers.training.models;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.sparkformers.training.models.internal.Ops;
import io.sparkformers.training.models.internal.ParamSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * transformers' BertForSequenceClassification: word + token-type + absolute position embeddings and a
 * LayerNorm, post-LayerNorm encoder layers (self-attention with nn.Linear projections [out, in], then the
 * feed-forward), the pooler (tanh over the first token) and the classifier. Loss by {@code problem_type} as
 * transformers chooses it.
 */
public final class BertForSequenceClassification extends BaseModel {
  private final BertConfig config;
  private final int headDim;

  BertForSequenceClassification(BertConfig config, NDManager manager, Map<String, NDArray> values) {
    super(manager, specs(config), values);
    this.config = config;
    this.headDim = config.hiddenSize() / config.numAttentionHeads();
  }

  static List<ParamSpec> specs(BertConfig c) {
    double std = c.initializerRange();
    int hs = c.hiddenSize();
    List<ParamSpec> s = new ArrayList<>();
    s.add(ParamSpec.normal("bert.embeddings.word_embeddings.weight", std, c.vocabSize(), hs));
    s.add(ParamSpec.normal("bert.embeddings.position_embeddings.weight", std, c.maxPositionEmbeddings(), hs));
    s.add(ParamSpec.normal("bert.embeddings.token_type_embeddings.weight", std, c.typeVocabSize(), hs));
    s.add(ParamSpec.ones("bert.embeddings.LayerNorm.weight", hs));
    s.add(ParamSpec.zeros("bert.embeddings.LayerNorm.bias", hs));
    for (int i = 0; i < c.numHiddenLayers(); i++) {
      String l = "bert.encoder.layer." + i + ".";
      for (String proj : new String[] {"attention.self.query", "attention.self.key", "attention.self.value",
          "attention.output.dense"}) {
        s.add(ParamSpec.normal(l + proj + ".weight", std, hs, hs));
        s.add(ParamSpec.zeros(l + proj + ".bias", hs));
      }
      s.add(ParamSpec.ones(l + "attention.output.LayerNorm.weight", hs));
      s.add(ParamSpec.zeros(l + "attention.output.LayerNorm.bias", hs));
      s.add(ParamSpec.normal(l + "intermediate.dense.weight", std, c.intermediateSize(), hs));
      s.add(ParamSpec.zeros(l + "intermediate.dense.bias", c.intermediateSize()));
      s.add(ParamSpec.normal(l + "output.dense.weight", std, hs, c.intermediateSize()));
      s.add(ParamSpec.zeros(l + "output.dense.bias", hs));
      s.add(ParamSpec.ones(l + "output.LayerNorm.weight", hs));
      s.add(ParamSpec.zeros(l + "output.LayerNorm.bias", hs));
    }
    s.add(ParamSpec.normal("bert.pooler.dense.weight", std, hs, hs));
    s.add(ParamSpec.zeros("bert.pooler.dense.bias", hs));
    s.add(ParamSpec.normal("classifier.weight", std, c.numLabels(), hs));
    s.add(ParamSpec.zeros("classifier.bias", c.numLabels()));
    return s;
  }

  /**
   * Checkpoint names as this model names them: old {@code LayerNorm.gamma/beta} renamed to weight/bias, BertModel
   * checkpoints (no {@code bert.} prefix) accepted, the {@code position_ids} buffer ignored.
   */
  static String checkpointKey(String raw) {
    String key = raw;
    if (key.endsWith(".gamma")) {
      key = key.substring(0, key.length() - 6) + ".weight";
    } else if (key.endsWith(".beta")) {
      key = key.substring(0, key.length() - 5) + ".bias";
    }
    if (key.startsWith("embeddings.") || key.startsWith("encoder.") || key.startsWith("pooler.")) {
      key = "bert." + key;
    }
    if (key.equals("bert.embeddings.position_ids")) {
      return null;
    }
    return key;
  }

  @Override
  public String modelType() {
    return BertConfig.MODEL_TYPE;
  }

  @Override
  public BertConfig config() {
    return config;
  }

  /**
   * Inputs: {@code input_ids} [batch, seq]; optional {@code attention_mask}, {@code token_type_ids} (default
   * zeros), {@code position_ids} (default 0..seq−1), {@code labels} [batch]. Logits are [batch, num_labels].
   */
  @Override
  public ModelOutput forward(Map<String, NDArray> inputs, boolean training) {
    NDArray ids = inputs.get("input_ids");
    if (ids == null) {
      throw new IllegalArgumentException("bert forward needs 'input_ids' [batch, seq]; got inputs "
          + inputs.keySet());
    }
    if (ids.getShape().dimension() != 2) {
      throw new IllegalArgumentException("bert 'input_ids' must be [batch, seq], got " + ids.getShape());
    }
    NDManager m = ids.getManager();
    long batch = ids.getShape().get(0);
    long seq = ids.getShape().get(1);
    if (seq > config.maxPositionEmbeddings()) {
      throw new IllegalArgumentException("sequence of " + seq + " tokens is longer than the model's context"
          + " (max_position_embeddings " + config.maxPositionEmbeddings() + ")");
    }
    NDArray ids64 = ids.toType(DataType.INT64, false);
    NDArray types = inputs.get("token_type_ids");
    NDArray types64 = types != null ? types.toType(DataType.INT64, false) : m.zeros(ids.getShape(), DataType.INT64);
    NDArray positions = inputs.get("position_ids");
    NDArray pos64 = positions != null ? positions.toType(DataType.INT64, false)
        : m.arange(0, (int) seq, 1, DataType.INT64).reshape(1, seq);

    NDArray x = Ops.embedding(ids64, p("bert.embeddings.word_embeddings.weight"))
        .add(Ops.embedding(types64, p("bert.embeddings.token_type_embeddings.weight")))
        .add(Ops.embedding(pos64, p("bert.embeddings.position_embeddings.weight")));
    x = Ops.layerNorm(x, p("bert.embeddings.LayerNorm.weight"), p("bert.embeddings.LayerNorm.bias"),
        config.layerNormEps());
    x = Ops.dropout(x, config.hiddenDropoutProb(), training);

    NDArray maskAdd = null;
    NDArray mask = inputs.get("attention_mask");
    if (mask != null) {
      maskAdd = mask.toType(DataType.FLOAT32, false).reshape(batch, 1, 1, seq).neg().addi(1f)
          .muli(Ops.FLOAT32_MIN);
    }
    float scale = (float) Math.sqrt(headDim);
    int hs = config.hiddenSize();
    for (int i = 0; i < config.numHiddenLayers(); i++) {
      String l = "bert.encoder.layer." + i + ".";
      NDArray q = heads(Ops.linear(x, p(l + "attention.self.query.weight"), p(l + "attention.self.query.bias")),
          batch, seq);
      NDArray k = heads(Ops.linear(x, p(l + "attention.self.key.weight"), p(l + "attention.self.key.bias")),
          batch, seq);
      NDArray v = heads(Ops.linear(x, p(l + "attention.self.value.weight"), p(l + "attention.self.value.bias")),
          batch, seq);
      NDArray w = Ops.div(q.matMul(k.transpose(0, 1, 3, 2)), scale);
      if (maskAdd != null) {
        w = w.add(maskAdd);
      }
      w = Ops.dropout(w.softmax(-1), config.attentionProbsDropoutProb(), training);
      NDArray ctx = w.matMul(v).transpose(0, 2, 1, 3).reshape(batch, seq, hs);
      NDArray attn = Ops.linear(ctx, p(l + "attention.output.dense.weight"), p(l + "attention.output.dense.bias"));
      attn = Ops.dropout(attn, config.hiddenDropoutProb(), training);
      NDArray attnOut = Ops.layerNorm(attn.add(x), p(l + "attention.output.LayerNorm.weight"),
          p(l + "attention.output.LayerNorm.bias"), config.layerNormEps());
      NDArray inter = Ops.activation(config.hiddenAct(),
          Ops.linear(attnOut, p(l + "intermediate.dense.weight"), p(l + "intermediate.dense.bias")));
      NDArray out = Ops.linear(inter, p(l + "output.dense.weight"), p(l + "output.dense.bias"));
      out = Ops.dropout(out, config.hiddenDropoutProb(), training);
      x = Ops.layerNorm(out.add(attnOut), p(l + "output.LayerNorm.weight"), p(l + "output.LayerNorm.bias"),
          config.layerNormEps());
    }
    NDArray first = x.get(":, 0, :");
    NDArray pooled = Ops.linear(first, p("bert.pooler.dense.weight"), p("bert.pooler.dense.bias")).tanh();
    pooled = Ops.dropout(pooled, config.classifierDropout(), training);
    NDArray logits = Ops.linear(pooled, p("classifier.weight"), p("classifier.bias"));
    NDArray labels = inputs.get("labels");
    NDArray loss = labels == null ? null
        : Ops.classificationLoss(logits, labels, config.numLabels(), config.problemType());
    return new ModelOutput(logits, loss);
  }

  private NDArray heads(NDArray t, long batch, long seq) {
    return t.reshape(batch, seq, config.numAttentionHeads(), headDim).transpose(0, 2, 1, 3);
  }
}
