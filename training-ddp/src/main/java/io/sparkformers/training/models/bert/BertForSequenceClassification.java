package io.sparkformers.training.models.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.sparkformers.training.models.BaseModel;
import io.sparkformers.training.models.ModelOutput;
import io.sparkformers.training.models.internal.Ops;
import io.sparkformers.training.models.nn.Embedding;
import io.sparkformers.training.models.nn.Init;
import io.sparkformers.training.models.nn.LayerNorm;
import io.sparkformers.training.models.nn.Linear;
import io.sparkformers.training.models.nn.Module;
import io.sparkformers.training.models.nn.ModuleList;
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
  private final Bert bert;
  private final Linear classifier;

  /** transformers' BertModel: embeddings, encoder ({@code layer.N}) and pooler. */
  static final class Bert extends Module {
    final Embeddings embeddings;
    final ModuleList<Layer> layers;
    final Dense pooler;

    Bert(BertConfig c) {
      embeddings = addModule("embeddings", new Embeddings(c));
      layers = addModule("encoder", new Encoder(c)).layer;
      pooler = addModule("pooler", new Dense(c.hiddenSize(), c.hiddenSize(), c));
    }
  }

  /** BertEncoder: the layers, as {@code layer.N}. */
  static final class Encoder extends Module {
    final ModuleList<Layer> layer;

    Encoder(BertConfig c) {
      layer = addModule("layer", new ModuleList<>());
      for (int i = 0; i < c.numHiddenLayers(); i++) {
        layer.add(new Layer(c));
      }
    }
  }

  static final class Embeddings extends Module {
    final Embedding word;
    final Embedding position;
    final Embedding tokenType;
    final LayerNorm norm;

    Embeddings(BertConfig c) {
      Init init = Init.normal(c.initializerRange());
      word = addModule("word_embeddings", new Embedding(c.vocabSize(), c.hiddenSize(), init));
      position = addModule("position_embeddings", new Embedding(c.maxPositionEmbeddings(), c.hiddenSize(), init));
      tokenType = addModule("token_type_embeddings", new Embedding(c.typeVocabSize(), c.hiddenSize(), init));
      norm = addModule("LayerNorm", new LayerNorm(c.hiddenSize(), c.layerNormEps()));
    }
  }

  /** A module holding one {@code dense} nn.Linear (BertIntermediate, BertPooler). */
  static final class Dense extends Module {
    final Linear dense;

    Dense(int in, int out, BertConfig c) {
      dense = addModule("dense", linear(in, out, c));
    }
  }

  /** {@code dense} then a residual LayerNorm (BertSelfOutput, BertOutput). */
  static final class DenseNorm extends Module {
    final Linear dense;
    final LayerNorm norm;

    DenseNorm(int in, BertConfig c) {
      dense = addModule("dense", linear(in, c.hiddenSize(), c));
      norm = addModule("LayerNorm", new LayerNorm(c.hiddenSize(), c.layerNormEps()));
    }
  }

  static final class SelfAttention extends Module {
    final Linear query;
    final Linear key;
    final Linear value;

    SelfAttention(BertConfig c) {
      query = addModule("query", linear(c.hiddenSize(), c.hiddenSize(), c));
      key = addModule("key", linear(c.hiddenSize(), c.hiddenSize(), c));
      value = addModule("value", linear(c.hiddenSize(), c.hiddenSize(), c));
    }
  }

  static final class Attention extends Module {
    final SelfAttention self;
    final DenseNorm output;

    Attention(BertConfig c) {
      self = addModule("self", new SelfAttention(c));
      output = addModule("output", new DenseNorm(c.hiddenSize(), c));
    }
  }

  /** One post-LayerNorm encoder layer: attention, intermediate, output. */
  static final class Layer extends Module {
    final Attention attention;
    final Dense intermediate;
    final DenseNorm output;

    Layer(BertConfig c) {
      attention = addModule("attention", new Attention(c));
      intermediate = addModule("intermediate", new Dense(c.hiddenSize(), c.intermediateSize(), c));
      output = addModule("output", new DenseNorm(c.intermediateSize(), c));
    }
  }

  /** transformers' _init_weights for nn.Linear: normal(0, initializer_range) weight, zero bias. */
  private static Linear linear(int in, int out, BertConfig c) {
    return new Linear(in, out, Init.normal(c.initializerRange()), Init.zeros());
  }

  /** Declares the modules; {@link BertArchitecture} has the parameters created. */
  BertForSequenceClassification(BertConfig config) {
    this.config = config;
    this.headDim = config.hiddenSize() / config.numAttentionHeads();
    this.bert = addModule("bert", new Bert(config));
    this.classifier = addModule("classifier", linear(config.hiddenSize(), config.numLabels(), config));
  }

  /**
   * Checkpoint names as this model names them: old {@code LayerNorm.gamma/beta} renamed to weight/bias, BertModel
   * checkpoints (no {@code bert.} prefix) accepted, the {@code position_ids} buffer ignored.
   */
  public static String checkpointKey(String raw) {
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

    Embeddings emb = bert.embeddings;
    NDArray x = emb.word.forward(ids64)
        .add(emb.tokenType.forward(types64))
        .add(emb.position.forward(pos64));
    x = emb.norm.forward(x);
    x = Ops.dropout(x, config.hiddenDropoutProb(), training);

    NDArray maskAdd = null;
    NDArray mask = inputs.get("attention_mask");
    if (mask != null) {
      maskAdd = mask.toType(DataType.FLOAT32, false).reshape(batch, 1, 1, seq).neg().addi(1f)
          .muli(Ops.FLOAT32_MIN);
    }
    float scale = (float) Math.sqrt(headDim);
    int hs = config.hiddenSize();
    for (Layer l : bert.layers) {
      SelfAttention self = l.attention.self;
      NDArray q = heads(self.query.forward(x), batch, seq);
      NDArray k = heads(self.key.forward(x), batch, seq);
      NDArray v = heads(self.value.forward(x), batch, seq);
      NDArray w = Ops.div(Ops.matmul(q, k.transpose(0, 1, 3, 2)), scale);
      if (maskAdd != null) {
        w = w.add(maskAdd);
      }
      w = Ops.dropout(w.softmax(-1), config.attentionProbsDropoutProb(), training);
      NDArray ctx = Ops.matmul(w, v).transpose(0, 2, 1, 3).reshape(batch, seq, hs);
      NDArray attn = l.attention.output.dense.forward(ctx);
      attn = Ops.dropout(attn, config.hiddenDropoutProb(), training);
      NDArray attnOut = l.attention.output.norm.forward(attn.add(x));
      NDArray inter = Ops.activation(config.hiddenAct(), l.intermediate.dense.forward(attnOut));
      NDArray out = l.output.dense.forward(inter);
      out = Ops.dropout(out, config.hiddenDropoutProb(), training);
      x = l.output.norm.forward(out.add(attnOut));
    }
    NDArray first = x.get(":, 0, :");
    NDArray pooled = bert.pooler.dense.forward(first).tanh();
    pooled = Ops.dropout(pooled, config.classifierDropout(), training);
    NDArray logits = classifier.forward(pooled);
    NDArray labels = inputs.get("labels");
    NDArray loss = labels == null ? null
        : Ops.classificationLoss(logits, labels, config.numLabels(), config.problemType());
    return new ModelOutput(logits, loss);
  }

  private NDArray heads(NDArray t, long batch, long seq) {
    return t.reshape(batch, seq, config.numAttentionHeads(), headDim).transpose(0, 2, 1, 3);
  }
}
