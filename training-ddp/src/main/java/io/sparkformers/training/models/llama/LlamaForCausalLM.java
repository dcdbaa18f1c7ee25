package io.sparkformers.training.models.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import io.sparkformers.training.internal.Autocast;
import io.sparkformers.training.internal.Autograd;
import io.sparkformers.training.internal.BackwardSegments;
import io.sparkformers.training.models.BaseModel;
import io.sparkformers.training.models.CausalLM;
import io.sparkformers.training.models.ModelOutput;
import io.sparkformers.training.models.internal.CausalLmLoss;
import io.sparkformers.training.models.internal.FusedLinearCrossEntropy;
import io.sparkformers.training.models.internal.LayerKvCache;
import io.sparkformers.training.models.internal.Ops;
import io.sparkformers.training.models.nn.Embedding;
import io.sparkformers.training.models.nn.Init;
import io.sparkformers.training.models.nn.Linear;
import io.sparkformers.training.models.nn.Module;
import io.sparkformers.training.models.nn.ModuleList;
import io.sparkformers.training.models.nn.RMSNorm;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * transformers' LlamaForCausalLM (and Qwen2ForCausalLM, MistralForCausalLM, which compute the same with other
 * biases): token embedding, pre-RMSNorm decoder layers of rotary grouped-query self-attention scaled by
 * 1/√head_dim and a gated MLP ({@code down(act(gate(x)) · up(x))}), a final RMSNorm and the LM head (the token
 * embedding when tied). Padding and future positions are masked with transformers' additive
 * {@code finfo(float32).min}, never −inf, so padded rows stay finite.
 */
public final class LlamaForCausalLM extends BaseModel implements CausalLM {
  // Checkpoints written by older transformers hold the rotary buffer; transformers ignores it on load.
  private static final Pattern IGNORED = Pattern.compile("\\.rotary_emb\\.inv_freq$");

  private final LlamaConfig config;
  private final int headDim;
  private final int groups;
  private final float[] inverseFrequencies;
  private final LlamaModel model;
  private final Linear lmHead;
  private FusedLinearCrossEntropy lossKernel;

  /** transformers' LlamaModel: embed_tokens, the layers, the final norm. */
  static final class LlamaModel extends Module {
    final Embedding embedTokens;
    final ModuleList<DecoderLayer> layers;
    final RMSNorm norm;

    LlamaModel(LlamaConfig c) {
      embedTokens = addModule("embed_tokens", new Embedding(c.vocabSize(), c.hiddenSize(),
          Init.normal(c.initializerRange())));
      layers = addModule("layers", new ModuleList<>());
      for (int i = 0; i < c.numHiddenLayers(); i++) {
        layers.add(new DecoderLayer(c));
      }
      norm = addModule("norm", new RMSNorm(c.hiddenSize(), c.rmsNormEps()));
    }
  }

  /** One decoder layer, declared in transformers' order: self_attn, mlp, input_layernorm, post_attention_layernorm. */
  static final class DecoderLayer extends Module {
    final Attention selfAttn;
    final Mlp mlp;
    final RMSNorm inputLayernorm;
    final RMSNorm postAttentionLayernorm;

    DecoderLayer(LlamaConfig c) {
      selfAttn = addModule("self_attn", new Attention(c));
      mlp = addModule("mlp", new Mlp(c));
      inputLayernorm = addModule("input_layernorm", new RMSNorm(c.hiddenSize(), c.rmsNormEps()));
      postAttentionLayernorm = addModule("post_attention_layernorm", new RMSNorm(c.hiddenSize(), c.rmsNormEps()));
    }
  }

  /** q_proj (all heads), k_proj and v_proj (the key/value heads only), o_proj. */
  static final class Attention extends Module {
    final Linear qProj;
    final Linear kProj;
    final Linear vProj;
    final Linear oProj;

    Attention(LlamaConfig c) {
      long hd = c.headDim();
      Init w = Init.normal(c.initializerRange());
      Init qkvBias = c.qkvBias() ? Init.zeros() : null;
      qProj = addModule("q_proj", new Linear(c.hiddenSize(), c.numAttentionHeads() * hd, w, qkvBias));
      kProj = addModule("k_proj", new Linear(c.hiddenSize(), c.numKeyValueHeads() * hd, w, qkvBias));
      vProj = addModule("v_proj", new Linear(c.hiddenSize(), c.numKeyValueHeads() * hd, w, qkvBias));
      oProj = addModule("o_proj", new Linear(c.numAttentionHeads() * hd, c.hiddenSize(), w,
          c.outputBias() ? Init.zeros() : null));
    }
  }

  /** gate_proj, up_proj, down_proj. */
  static final class Mlp extends Module {
    final Linear gateProj;
    final Linear upProj;
    final Linear downProj;

    Mlp(LlamaConfig c) {
      Init w = Init.normal(c.initializerRange());
      Init bias = c.mlpBias() ? Init.zeros() : null;
      gateProj = addModule("gate_proj", new Linear(c.hiddenSize(), c.intermediateSize(), w, bias));
      upProj = addModule("up_proj", new Linear(c.hiddenSize(), c.intermediateSize(), w, bias));
      downProj = addModule("down_proj", new Linear(c.intermediateSize(), c.hiddenSize(), w, bias));
    }
  }

  /** Declares the modules; the architecture has the parameters created. */
  public LlamaForCausalLM(LlamaConfig config) {
    this.config = config;
    this.headDim = config.headDim();
    this.groups = config.numAttentionHeads() / config.numKeyValueHeads();
    this.inverseFrequencies = config.rope().inverseFrequencies(headDim);
    this.model = addModule("model", new LlamaModel(config));
    // A tied head is the token embedding itself, not a parameter of its own (as torch's named_parameters).
    this.lmHead = config.tieWordEmbeddings() ? null
        : addModule("lm_head", new Linear(config.hiddenSize(), config.vocabSize(),
            Init.normal(config.initializerRange()), null));
  }

  /** Checkpoint names as this model names them: the tied lm_head.weight and rotary buffers are ignored. */
  public static String checkpointKey(LlamaConfig c, String raw) {
    if (IGNORED.matcher(raw).find()) {
      return null;
    }
    if (raw.equals("lm_head.weight") && c.tieWordEmbeddings()) {
      return null;
    }
    return raw;
  }

  @Override
  public String modelType() {
    return config.modelType();
  }

  @Override
  public LlamaConfig config() {
    return config;
  }

  /**
   * Inputs: {@code input_ids} [batch, seq]; optional {@code attention_mask} [batch, seq] (1 = token, 0 = pad),
   * {@code position_ids} (default 0..seq−1, as a plain transformers forward call), {@code labels} (shifted by
   * one inside the loss, −100 ignored, mean over counted tokens). While training with labels and gradients
   * recorded, the LM head and the loss are computed together ({@link FusedLinearCrossEntropy}) and the
   * output's logits are null.
   */
  @Override
  public ModelOutput forward(Map<String, NDArray> inputs, boolean training) {
    NDArray ids = inputs.get("input_ids");
    if (ids == null) {
      throw new IllegalArgumentException(config.modelType() + " forward needs 'input_ids' [batch, seq]; got inputs "
          + inputs.keySet());
    }
    if (inputs.get("token_type_ids") != null) {
      throw new IllegalArgumentException(config.modelType() + " takes no 'token_type_ids'");
    }
    NDArray labels = inputs.get("labels");
    // Under autocast the head is a bf16/fp16 product and the loss is taken on its float32 widening, as
    // transformers' loss upcasts the logits; the fused kernel computes the head in float32.
    if (training && labels != null && Autograd.isEnabled() && Autocast.active() == null) {
      NDArray hidden = hidden(ids, inputs.get("attention_mask"), inputs.get("position_ids"), null, true);
      return new ModelOutput(null, CausalLmLoss.fused(lossKernel(), hidden, headWeight(), labels));
    }
    NDArray logits = forward(ids, inputs.get("attention_mask"), inputs.get("position_ids"), null, null, training);
    return new ModelOutput(logits, labels == null ? null : CausalLmLoss.fromLogits(logits, labels));
  }

  /** The LM head's weight [vocab, hidden]: the token embedding when tied. */
  private NDArray headWeight() {
    // Tied: the embedding's gradient from the head joins the one from the embedding in one backward when an
    // overlapped data-parallel backward runs segment by segment.
    return lmHead == null ? BackwardSegments.tied(model.embedTokens.weight().array()) : lmHead.weight().array();
  }

  private synchronized FusedLinearCrossEntropy lossKernel() {
    if (lossKernel == null) {
      lossKernel = FusedLinearCrossEntropy.load(manager());
    }
    return lossKernel;
  }

  @Override
  public KvCache newCache() {
    return new LayerKvCache(config.numHiddenLayers());
  }

  @Override
  public List<Integer> eosTokenIds() {
    return config.eosTokenId();
  }

  @Override
  public Integer padTokenId() {
    return config.padTokenId();
  }

  @Override
  public NDArray forward(NDArray ids, NDArray attentionMask, NDArray positionIds, NDArray tokenTypeIds,
      KvCache cache, boolean training) {
    if (tokenTypeIds != null) {
      throw new IllegalArgumentException(config.modelType() + " takes no 'token_type_ids'");
    }
    NDArray hidden = hidden(ids, attentionMask, positionIds, (LayerKvCache) cache, training);
    return Ops.linear(hidden, headWeight(), null);
  }

  /** The final hidden states [batch, seq, hidden] (after the last norm), the LM head's input. */
  private NDArray hidden(NDArray ids, NDArray attentionMask, NDArray positionIds, LayerKvCache cache,
      boolean training) {
    if (ids.getShape().dimension() != 2) {
      throw new IllegalArgumentException(config.modelType() + " 'input_ids' must be [batch, seq], got "
          + ids.getShape());
    }
    NDManager m = ids.getManager();
    long batch = ids.getShape().get(0);
    long seq = ids.getShape().get(1);
    int past = cache == null ? 0 : cache.length();
    long total = past + seq;
    Integer window = config.effectiveSlidingWindow();
    if (window != null && total > window) {
      throw new IllegalArgumentException("sequence of " + total + " positions is longer than the attention window"
          + " (config key 'sliding_window' " + window + "): sliding-window attention is not implemented, and it"
          + " would change the result at this length");
    }
    NDArray x = model.embedTokens.forward(ids.toType(DataType.INT64, false));

    // Rotary cos/sin [batch or 1, 1, seq, head_dim], as LlamaRotaryEmbedding: freqs = position · inv_freq in
    // float32, emb = cat(freqs, freqs).
    NDArray positions = positionIds != null ? positionIds.toType(DataType.FLOAT32, false).reshape(-1, seq)
        : m.arange(past, (int) total, 1, DataType.FLOAT32).reshape(1, seq);
    NDArray invFreq = m.create(inverseFrequencies).reshape(1, 1, inverseFrequencies.length);
    NDArray freqs = positions.expandDims(2).mul(invFreq);
    NDArray emb = freqs.concat(freqs, 2).expandDims(1);
    NDArray cos = emb.cos();
    NDArray sin = emb.sin();

    // transformers: where(causal, w, finfo.min) + (1 − mask)·finfo.min, built once per call; where() keeps
    // every gradient off masked scores.
    NDArray rows = m.arange(past, (int) total, 1, DataType.INT64).reshape(seq, 1);
    NDArray cols = m.arange(0, (int) total, 1, DataType.INT64).reshape(1, total);
    NDArray causal = cols.lte(rows);
    NDArray maskValue = m.create(Ops.FLOAT32_MIN);
    NDArray padAdd = null;
    if (attentionMask != null) {
      if (attentionMask.getShape().get(1) != total) {
        throw new IllegalArgumentException("attention_mask covers " + attentionMask.getShape().get(1)
            + " positions, expected " + total);
      }
      NDArray maskF = attentionMask.toType(DataType.FLOAT32, false).reshape(batch, 1, 1, total);
      padAdd = maskF.neg().addi(1f).muli(Ops.FLOAT32_MIN);
    }

    double scaling = 1.0 / Math.sqrt(headDim);
    int heads = config.numAttentionHeads();
    int kvHeads = config.numKeyValueHeads();
    for (int i = 0; i < config.numHiddenLayers(); i++) {
      DecoderLayer layer = model.layers.get(i);
      // A segment boundary for an overlapped data-parallel backward: layer i's gradients are final once
      // backward has passed here.
      x = BackwardSegments.cut(x, () -> layer.trainableParameters().values());
      NDArray h = layer.inputLayernorm.forward(x);
      NDArray q = rotate(heads(layer.selfAttn.qProj.forward(h), batch, seq, heads), cos, sin);
      NDArray k = rotate(heads(layer.selfAttn.kProj.forward(h), batch, seq, kvHeads), cos, sin);
      NDArray v = heads(layer.selfAttn.vProj.forward(h), batch, seq, kvHeads);
      if (cache != null) {
        NDArray[] kv = cache.append(i, k, v);
        k = kv[0];
        v = kv[1];
      }
      // Grouped-query attention: the query heads that share a key/value head (transformers' repeat_kv gives
      // head j the key/value head j / groups) are stacked along the sequence axis, [batch, kv heads,
      // groups·seq, head_dim], so each key/value head multiplies its group at once without being copied.
      NDArray qGrouped = q.reshape(batch, kvHeads, groups * seq, headDim);
      NDArray w = Ops.matmul(qGrouped, k.transpose(0, 1, 3, 2)).reshape(batch, heads, seq, total);
      w = Ops.mul(w, scaling);
      w = Ops.where(causal, w, maskValue);
      if (padAdd != null) {
        w = w.add(padAdd);
      }
      // Softmax as torch's scaled_dot_product_attention computes it on the CPU (transformers' default
      // attention): exp(w - max) multiplies the values first and the row sums divide the result, rather than
      // normalising the weights before the product. The same math, rounded as transformers rounds it: LoRA's
      // Adam steps magnify those last-bit differences (one adapter weight moved 1.2e-5 from PEFT's with the
      // weights normalised first, 2.6e-6 with this order).
      NDArray rowMax = w.max(new int[] {-1}, true);
      w = w.sub(rowMax).exp();
      NDArray rowSum = w.sum(new int[] {-1}, true);
      w = Ops.dropout(w, config.attentionDropout(), training);
      NDArray ctx = Ops.matmul(w.reshape(batch, kvHeads, groups * seq, total), v)
          .reshape(batch, heads, seq, headDim).div(rowSum).transpose(0, 2, 1, 3)
          .reshape(batch, seq, (long) heads * headDim);
      x = x.add(layer.selfAttn.oProj.forward(ctx));
      NDArray f = layer.postAttentionLayernorm.forward(x);
      NDArray gate = Ops.activation(config.hiddenAct(), layer.mlp.gateProj.forward(f));
      x = x.add(layer.mlp.downProj.forward(gate.mul(layer.mlp.upProj.forward(f))));
    }
    if (cache != null) {
      cache.setLength((int) total);
    }
    // The head's segment: the final norm and an untied lm_head (a tied head is the token embedding, final only
    // at the end).
    x = BackwardSegments.cut(x, () -> {
      List<Parameter> head = new ArrayList<>(model.norm.trainableParameters().values());
      if (lmHead != null) {
        head.addAll(lmHead.trainableParameters().values());
      }
      return head;
    });
    return model.norm.forward(x);
  }

  /** [batch, seq, n·head_dim] → [batch, n, seq, head_dim]. */
  private NDArray heads(NDArray t, long batch, long seq, int n) {
    return t.reshape(batch, seq, n, headDim).transpose(0, 2, 1, 3);
  }

  /** apply_rotary_pos_emb: x·cos + rotate_half(x)·sin, rotate_half(x) = cat(−x₂, x₁) of x's two halves. */
  private NDArray rotate(NDArray x, NDArray cos, NDArray sin) {
    NDList halves = x.split(2, 3);
    NDArray rotated = halves.get(1).neg().concat(halves.get(0), 3);
    return x.mul(cos).add(rotated.mul(sin));
  }
}
