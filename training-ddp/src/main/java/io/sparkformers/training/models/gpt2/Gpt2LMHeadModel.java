package io.sparkformers.training.models.gpt2;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
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
import io.sparkformers.training.models.nn.Conv1D;
import io.sparkformers.training.models.nn.Embedding;
import io.sparkformers.training.models.nn.Init;
import io.sparkformers.training.models.nn.LayerNorm;
import io.sparkformers.training.models.nn.Linear;
import io.sparkformers.training.models.nn.Module;
import io.sparkformers.training.models.nn.ModuleList;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * transformers' GPT2LMHeadModel: token and position embeddings, pre-LayerNorm decoder blocks with Conv1D
 * projections (weights [in, out]), causal self-attention scaled by 1/√head_dim, the configured activation
 * (gelu_new for GPT-2), a final LayerNorm and an LM head tied to the token embedding (logits = h·wteᵀ).
 * Padding is masked with transformers' additive {@code finfo(float32).min}, never −inf, so padded rows stay
 * finite.
 */
public final class Gpt2LMHeadModel extends BaseModel implements CausalLM {
  private static final Pattern IGNORED = Pattern.compile("(^|\\.)h\\.\\d+\\.attn\\.(masked_)?bias$");

  private final Gpt2Config config;
  private final int headDim;
  private final Gpt2Model transformer;
  private final Linear lmHead;
  private FusedLinearCrossEntropy lossKernel;

  /** transformers' GPT2Model: the embeddings, the blocks ({@code h}) and the final LayerNorm. */
  static final class Gpt2Model extends Module {
    final Embedding wte;
    final Embedding wpe;
    final ModuleList<Block> h;
    final LayerNorm lnF;

    Gpt2Model(Gpt2Config c) {
      // transformers' _init_weights: normal(0, initializer_range), zero biases, unit LayerNorms, and the
      // residual projections (c_proj) scaled by 1/√(2·n_layer).
      double std = c.initializerRange();
      wte = addModule("wte", new Embedding(c.vocabSize(), c.nEmbd(), Init.normal(std)));
      wpe = addModule("wpe", new Embedding(c.nPositions(), c.nEmbd(), Init.normal(std)));
      h = addModule("h", new ModuleList<>());
      for (int i = 0; i < c.nLayer(); i++) {
        h.add(new Block(c));
      }
      lnF = addModule("ln_f", new LayerNorm(c.nEmbd(), c.layerNormEpsilon()));
    }
  }

  /** One pre-LayerNorm decoder block: ln_1, attn (c_attn, c_proj), ln_2, mlp (c_fc, c_proj). */
  static final class Block extends Module {
    final LayerNorm ln1;
    final Attention attn;
    final LayerNorm ln2;
    final Mlp mlp;

    Block(Gpt2Config c) {
      ln1 = addModule("ln_1", new LayerNorm(c.nEmbd(), c.layerNormEpsilon()));
      attn = addModule("attn", new Attention(c));
      ln2 = addModule("ln_2", new LayerNorm(c.nEmbd(), c.layerNormEpsilon()));
      mlp = addModule("mlp", new Mlp(c));
    }
  }

  /** The attention's projections: c_attn (query, key, value together) and c_proj. */
  static final class Attention extends Module {
    final Conv1D cAttn;
    final Conv1D cProj;

    Attention(Gpt2Config c) {
      int e = c.nEmbd();
      cAttn = addModule("c_attn", new Conv1D(e, 3L * e, Init.normal(c.initializerRange()), Init.zeros()));
      cProj = addModule("c_proj", new Conv1D(e, e, Init.normal(projStd(c)), Init.zeros()));
    }
  }

  /** The feed-forward: c_fc, the activation, c_proj. */
  static final class Mlp extends Module {
    final Conv1D cFc;
    final Conv1D cProj;

    Mlp(Gpt2Config c) {
      cFc = addModule("c_fc", new Conv1D(c.nEmbd(), c.innerSize(), Init.normal(c.initializerRange()), Init.zeros()));
      cProj = addModule("c_proj", new Conv1D(c.innerSize(), c.nEmbd(), Init.normal(projStd(c)), Init.zeros()));
    }
  }

  private static double projStd(Gpt2Config c) {
    return c.initializerRange() / Math.sqrt(2.0 * c.nLayer());
  }

  /** Declares the modules; {@link Gpt2Architecture} has the parameters created. */
  Gpt2LMHeadModel(Gpt2Config config) {
    this.config = config;
    this.headDim = config.nEmbd() / config.nHead();
    this.transformer = addModule("transformer", new Gpt2Model(config));
    // A tied head is the token embedding itself, not a parameter of its own (as torch's named_parameters).
    this.lmHead = config.tieWordEmbeddings() ? null
        : addModule("lm_head", new Linear(config.nEmbd(), config.vocabSize(),
            Init.normal(config.initializerRange()), null));
  }

  /**
   * Checkpoint names as this model names them: GPT2Model checkpoints (no {@code transformer.} prefix) are
   * accepted, the tied {@code lm_head.weight} and the old causal-mask buffers ({@code attn.bias},
   * {@code attn.masked_bias}) are ignored as transformers ignores them.
   */
  public static String checkpointKey(Gpt2Config c, String raw) {
    if (IGNORED.matcher(raw).find()) {
      return null;
    }
    if (raw.equals("lm_head.weight")) {
      return c.tieWordEmbeddings() ? null : raw;
    }
    if (!raw.startsWith("transformer.") && !raw.startsWith("lm_head.")) {
      return "transformer." + raw;
    }
    return raw;
  }

  @Override
  public String modelType() {
    return Gpt2Config.MODEL_TYPE;
  }

  @Override
  public Gpt2Config config() {
    return config;
  }

  /**
   * Inputs: {@code input_ids} [batch, seq]; optional {@code attention_mask} [batch, seq] (1 = token, 0 = pad),
   * {@code position_ids} (default 0..seq−1, as a plain transformers forward call), {@code token_type_ids}
   * [batch, seq] (as GPT2Model: their token embeddings, wte(token_type_ids), are added to the hidden states),
   * {@code labels} (shifted by one inside the loss, −100 ignored, mean over counted tokens). Logits are
   * [batch, seq, vocab] — except when training with labels while gradients are recorded (a training step):
   * the LM head and the loss are then computed together, a block of tokens at a time
   * ({@link FusedLinearCrossEntropy}), the whole logits never exist and the output's logits are null, as
   * transformers' models under Liger-Kernel's fused linear cross-entropy return none.
   */
  @Override
  public ModelOutput forward(Map<String, NDArray> inputs, boolean training) {
    NDArray ids = inputs.get("input_ids");
    if (ids == null) {
      throw new IllegalArgumentException("gpt2 forward needs 'input_ids' [batch, seq]; got inputs "
          + inputs.keySet());
    }
    NDArray labels = inputs.get("labels");
    // Under autocast the head is a bf16/fp16 product (the fused kernel computes it in float32).
    if (training && labels != null && Autograd.isEnabled() && Autocast.active() == null) {
      NDArray hidden = hidden(ids, inputs.get("attention_mask"), inputs.get("position_ids"),
          inputs.get("token_type_ids"), null, true);
      return new ModelOutput(null, fusedCausalLmLoss(hidden, labels));
    }
    NDArray logits = forward(ids, inputs.get("attention_mask"), inputs.get("position_ids"),
        inputs.get("token_type_ids"), null, training);
    NDArray loss = null;
    if (labels != null) {
      loss = causalLmLoss(logits, labels);
    }
    return new ModelOutput(logits, loss);
  }

  /**
   * Mean next-token cross-entropy: logits[:, :-1] against labels[:, 1:], −100 ignored (shared by every causal LM:
   * {@link CausalLmLoss}).
   */
  public static NDArray causalLmLoss(NDArray logits, NDArray labels) {
    return CausalLmLoss.fromLogits(logits, labels);
  }

  /** {@link #causalLmLoss} from the final hidden states [batch, seq, embd], the LM head fused into the loss. */
  private NDArray fusedCausalLmLoss(NDArray hidden, NDArray labels) {
    return CausalLmLoss.fused(lossKernel(), hidden, headWeight(), labels);
  }

  /** The LM head's weight [vocab, embd]: the token embedding when tied. */
  private NDArray headWeight() {
    // Tied: the embedding's gradient from the head joins the one from the embedding in one backward when an
    // overlapped data-parallel backward runs segment by segment.
    return lmHead == null ? BackwardSegments.tied(transformer.wte.weight().array()) : lmHead.weight().array();
  }

  private synchronized FusedLinearCrossEntropy lossKernel() {
    if (lossKernel == null) {
      lossKernel = FusedLinearCrossEntropy.load(manager());
    }
    return lossKernel;
  }

  @Override
  public KvCache newCache() {
    return new LayerKvCache(config.nLayer());
  }

  @Override
  public List<Integer> eosTokenIds() {
    return config.eosTokenId();
  }

  @Override
  public Integer padTokenId() {
    return config.padTokenId();
  }

  /**
   * The forward pass. With a cache, {@code ids} are the new positions only, {@code attentionMask} covers past
   * and new positions, and the cache grows by the new positions' keys and values.
   */
  public NDArray forward(NDArray ids, NDArray attentionMask, NDArray positionIds, KvCache cache,
      boolean training) {
    return forward(ids, attentionMask, positionIds, null, cache, training);
  }

  /** As above; {@code tokenTypeIds} (or null) cover the same positions as {@code ids}. */
  @Override
  public NDArray forward(NDArray ids, NDArray attentionMask, NDArray positionIds, NDArray tokenTypeIds,
      KvCache kvCache, boolean training) {
    LayerKvCache cache = (LayerKvCache) kvCache;
    NDArray out = hidden(ids, attentionMask, positionIds, tokenTypeIds, cache, training);
    return Ops.linear(out, headWeight(), null);
  }

  /** The final hidden states [batch, seq, embd] (after ln_f), the LM head's input. */
  private NDArray hidden(NDArray ids, NDArray attentionMask, NDArray positionIds, NDArray tokenTypeIds,
      LayerKvCache cache, boolean training) {
    if (ids.getShape().dimension() != 2) {
      throw new IllegalArgumentException("gpt2 'input_ids' must be [batch, seq], got " + ids.getShape());
    }
    NDManager m = ids.getManager();
    long batch = ids.getShape().get(0);
    long seq = ids.getShape().get(1);
    int past = cache == null ? 0 : cache.length();
    long total = past + seq;
    if (total > config.nPositions()) {
      throw new IllegalArgumentException("sequence of " + total + " tokens is longer than the model's context"
          + " (n_positions " + config.nPositions() + ")");
    }
    NDArray ids64 = ids.toType(DataType.INT64, false);
    NDArray positions = positionIds != null ? positionIds.toType(DataType.INT64, false)
        : m.arange(past, (int) total, 1, DataType.INT64).reshape(1, seq);
    NDArray x;
    try (NDArray tok = transformer.wte.forward(ids64);
        NDArray pos = transformer.wpe.forward(positions)) {
      x = tok.add(pos);
    }
    if (tokenTypeIds != null) {
      // GPT2Model: token types are looked up in the token embedding (there is no separate type table).
      if (!tokenTypeIds.getShape().equals(ids.getShape())) {
        throw new IllegalArgumentException("gpt2 'token_type_ids' must have the shape of 'input_ids' "
            + ids.getShape() + ", got " + tokenTypeIds.getShape());
      }
      try (NDArray types64 = tokenTypeIds.toType(DataType.INT64, false);
          NDArray typeEmbeds = transformer.wte.forward(types64)) {
        x = x.add(typeEmbeds);
      }
    }
    x = Ops.dropout(x, config.embdPdrop(), training);

    // transformers: where(causal, w, finfo.min) + (1 − mask)·finfo.min, built once per call. where() also
    // keeps every gradient off masked scores (a left-padded row whose visible keys are all pads attends
    // uniformly, and its gradient must match).
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

    float scale = config.scaleAttnWeights() ? (float) Math.sqrt(headDim) : 1f;
    for (int i = 0; i < config.nLayer(); i++) {
      Block block = transformer.h.get(i);
      // A segment boundary for an overlapped data-parallel backward: block i's gradients are final once
      // backward has passed here.
      x = BackwardSegments.cut(x, () -> block.trainableParameters().values());
      NDArray a = block.ln1.forward(x);
      NDArray qkv = block.attn.cAttn.forward(a);
      NDList parts = qkv.split(3, 2);
      NDArray q = heads(parts.get(0), batch, seq);
      NDArray k = heads(parts.get(1), batch, seq);
      NDArray v = heads(parts.get(2), batch, seq);
      if (cache != null) {
        NDArray[] kv = cache.append(i, k, v);
        k = kv[0];
        v = kv[1];
      }
      NDArray w = Ops.matmul(q, k.transpose(0, 1, 3, 2));
      if (scale != 1f) {
        w = Ops.div(w, scale);
      }
      if (config.scaleAttnByInverseLayerIdx()) {
        w = Ops.div(w, (float) (i + 1));
      }
      w = Ops.where(causal, w, maskValue);
      if (padAdd != null) {
        w = w.add(padAdd);
      }
      w = w.softmax(-1);
      w = Ops.dropout(w, config.attnPdrop(), training);
      NDArray ctx = Ops.matmul(w, v).transpose(0, 2, 1, 3).reshape(batch, seq, config.nEmbd());
      NDArray attnOut = block.attn.cProj.forward(ctx);
      attnOut = Ops.dropout(attnOut, config.residPdrop(), training);
      x = x.add(attnOut);
      NDArray b = block.ln2.forward(x);
      NDArray ff = block.mlp.cFc.forward(b);
      ff = Ops.activation(config.activationFunction(), ff);
      ff = block.mlp.cProj.forward(ff);
      ff = Ops.dropout(ff, config.residPdrop(), training);
      x = x.add(ff);
    }
    if (cache != null) {
      cache.setLength((int) total);
    }
    // The head's segment: ln_f and an untied lm_head (a tied head is the token embedding, final only at the end).
    x = BackwardSegments.cut(x, () -> {
      List<Parameter> head = new ArrayList<>(transformer.lnF.trainableParameters().values());
      if (lmHead != null) {
        head.addAll(lmHead.trainableParameters().values());
      }
      return head;
    });
    return transformer.lnF.forward(x);
  }

  /** [batch, seq, embd] → [batch, heads, seq, head_dim]. */
  private NDArray heads(NDArray t, long batch, long seq) {
    return t.reshape(batch, seq, config.nHead(), headDim).transpose(0, 2, 1, 3);
  }
}
