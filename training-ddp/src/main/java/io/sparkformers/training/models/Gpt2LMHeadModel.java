package io.sparkformers.training.models;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.sparkformers.training.internal.Autograd;
import io.sparkformers.training.models.internal.FusedLinearCrossEntropy;
import io.sparkformers.training.models.internal.Ops;
import io.sparkformers.training.models.internal.ParamSpec;
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
public final class Gpt2LMHeadModel extends BaseModel {
  private static final Pattern IGNORED = Pattern.compile("(^|\\.)h\\.\\d+\\.attn\\.(masked_)?bias$");

  private final Gpt2Config config;
  private final int headDim;
  private FusedLinearCrossEntropy lossKernel;

  Gpt2LMHeadModel(Gpt2Config config, NDManager manager, Map<String, NDArray> values) {
    super(manager, specs(config), values);
    this.config = config;
    this.headDim = config.nEmbd() / config.nHead();
  }

  static List<ParamSpec> specs(Gpt2Config c) {
    // transformers' _init_weights: normal(0, initializer_range), zero biases, unit LayerNorms, and the
    // residual projections (c_proj) scaled by 1/√(2·n_layer).
    double std = c.initializerRange();
    double projStd = std / Math.sqrt(2.0 * c.nLayer());
    int e = c.nEmbd();
    int inner = c.innerSize();
    List<ParamSpec> s = new ArrayList<>();
    s.add(ParamSpec.normal("transformer.wte.weight", std, c.vocabSize(), e));
    s.add(ParamSpec.normal("transformer.wpe.weight", std, c.nPositions(), e));
    for (int i = 0; i < c.nLayer(); i++) {
      String h = "transformer.h." + i + ".";
      s.add(ParamSpec.ones(h + "ln_1.weight", e));
      s.add(ParamSpec.zeros(h + "ln_1.bias", e));
      s.add(ParamSpec.normal(h + "attn.c_attn.weight", std, e, 3L * e));
      s.add(ParamSpec.zeros(h + "attn.c_attn.bias", 3L * e));
      s.add(ParamSpec.normal(h + "attn.c_proj.weight", projStd, e, e));
      s.add(ParamSpec.zeros(h + "attn.c_proj.bias", e));
      s.add(ParamSpec.ones(h + "ln_2.weight", e));
      s.add(ParamSpec.zeros(h + "ln_2.bias", e));
      s.add(ParamSpec.normal(h + "mlp.c_fc.weight", std, e, inner));
      s.add(ParamSpec.zeros(h + "mlp.c_fc.bias", inner));
      s.add(ParamSpec.normal(h + "mlp.c_proj.weight", projStd, inner, e));
      s.add(ParamSpec.zeros(h + "mlp.c_proj.bias", e));
    }
    s.add(ParamSpec.ones("transformer.ln_f.weight", e));
    s.add(ParamSpec.zeros("transformer.ln_f.bias", e));
    if (!c.tieWordEmbeddings()) {
      s.add(ParamSpec.normal("lm_head.weight", std, c.vocabSize(), e));
    }
    return s;
  }

  /**
   * Checkpoint names as this model names them: GPT2Model checkpoints (no {@code transformer.} prefix) are
   * accepted, the tied {@code lm_head.weight} and the old causal-mask buffers ({@code attn.bias},
   * {@code attn.masked_bias}) are ignored as transformers ignores them.
   */
  static String checkpointKey(Gpt2Config c, String raw) {
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
    if (training && labels != null && Autograd.isEnabled()) {
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
   * Mean next-token cross-entropy: logits[:, :-1] against labels[:, 1:], −100 ignored. The labels are shifted
   * instead of the logits (the last position gets −100), which counts the same tokens without copying the
   * [batch, seq, vocab] logits.
   */
  public static NDArray causalLmLoss(NDArray logits, NDArray labels) {
    long vocab = logits.getShape().get(2);
    try (NDArray next = nextTokenLabels(labels)) {
      return Ops.crossEntropy(logits.reshape(-1, vocab), next);
    }
  }

  /** {@link #causalLmLoss} from the final hidden states [batch, seq, embd], the LM head fused into the loss. */
  private NDArray fusedCausalLmLoss(NDArray hidden, NDArray labels) {
    try (NDArray next = nextTokenLabels(labels)) {
      return lossKernel().loss(hidden.reshape(-1, config.nEmbd()), headWeight(), next);
    }
  }

  /** Each position's target, flattened to [batch·seq] int64: labels[:, 1:] and −100 for the last position. */
  private static NDArray nextTokenLabels(NDArray labels) {
    long batch = labels.getShape().get(0);
    NDManager m = labels.getManager();
    try (NDArray next = labels.get(":, 1:").toType(DataType.INT64, false);
        NDArray ignored = m.full(new ai.djl.ndarray.types.Shape(batch, 1), FusedLinearCrossEntropy.IGNORE_INDEX,
            DataType.INT64);
        NDArray shifted = next.concat(ignored, 1)) {
      return shifted.reshape(-1);
    }
  }

  /** The LM head's weight [vocab, embd]: the token embedding when tied. */
  private NDArray headWeight() {
    return config.tieWordEmbeddings() ? p("transformer.wte.weight") : p("lm_head.weight");
  }

  private synchronized FusedLinearCrossEntropy lossKernel() {
    if (lossKernel == null) {
      lossKernel = FusedLinearCrossEntropy.load(manager());
    }
    return lossKernel;
  }

  /** Keys and values of earlier positions, per layer [batch, heads, past, head_dim]. */
  static final class KvCache implements AutoCloseable {
    final NDArray[] keys;
    final NDArray[] values;
    int length;

    KvCache(int layers) {
      keys = new NDArray[layers];
      values = new NDArray[layers];
    }

    /** Moves the cached tensors to {@code manager} so a per-step manager can be closed. */
    void attach(NDManager manager) {
      for (int i = 0; i < keys.length; i++) {
        if (keys[i] != null) {
          keys[i].attach(manager);
          values[i].attach(manager);
        }
      }
    }

    @Override
    public void close() {
      for (int i = 0; i < keys.length; i++) {
        if (keys[i] != null) {
          keys[i].close();
          values[i].close();
        }
      }
    }
  }

  KvCache newCache() {
    return new KvCache(config.nLayer());
  }

  /**
   * The forward pass. With a cache, {@code ids} are the new positions only, {@code attentionMask} covers past
   * and new positions, and the cache grows by the new positions' keys and values.
   */
  NDArray forward(NDArray ids, NDArray attentionMask, NDArray positionIds, KvCache cache, boolean training) {
    return forward(ids, attentionMask, positionIds, null, cache, training);
  }

  /** As above; {@code tokenTypeIds} (or null) cover the same positions as {@code ids}. */
  NDArray forward(NDArray ids, NDArray attentionMask, NDArray positionIds, NDArray tokenTypeIds, KvCache cache,
      boolean training) {
    NDArray out = hidden(ids, attentionMask, positionIds, tokenTypeIds, cache, training);
    return Ops.linear(out, headWeight(), null);
  }

  /** The final hidden states [batch, seq, embd] (after ln_f), the LM head's input. */
  private NDArray hidden(NDArray ids, NDArray attentionMask, NDArray positionIds, NDArray tokenTypeIds,
      KvCache cache, boolean training) {
    if (ids.getShape().dimension() != 2) {
      throw new IllegalArgumentException("gpt2 'input_ids' must be [batch, seq], got " + ids.getShape());
    }
    NDManager m = ids.getManager();
    long batch = ids.getShape().get(0);
    long seq = ids.getShape().get(1);
    int past = cache == null ? 0 : cache.length;
    long total = past + seq;
    if (total > config.nPositions()) {
      throw new IllegalArgumentException("sequence of " + total + " tokens is longer than the model's context"
          + " (n_positions " + config.nPositions() + ")");
    }
    NDArray ids64 = ids.toType(DataType.INT64, false);
    NDArray positions = positionIds != null ? positionIds.toType(DataType.INT64, false)
        : m.arange(past, (int) total, 1, DataType.INT64).reshape(1, seq);
    NDArray x;
    try (NDArray tok = Ops.embedding(ids64, p("transformer.wte.weight"));
        NDArray pos = Ops.embedding(positions, p("transformer.wpe.weight"))) {
      x = tok.add(pos);
    }
    if (tokenTypeIds != null) {
      // GPT2Model: token types are looked up in the token embedding (there is no separate type table).
      if (!tokenTypeIds.getShape().equals(ids.getShape())) {
        throw new IllegalArgumentException("gpt2 'token_type_ids' must have the shape of 'input_ids' "
            + ids.getShape() + ", got " + tokenTypeIds.getShape());
      }
      try (NDArray types64 = tokenTypeIds.toType(DataType.INT64, false);
          NDArray typeEmbeds = Ops.embedding(types64, p("transformer.wte.weight"))) {
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
      String h = "transformer.h." + i + ".";
      NDArray a = Ops.layerNorm(x, p(h + "ln_1.weight"), p(h + "ln_1.bias"), config.layerNormEpsilon());
      NDArray qkv = Ops.conv1d(a, p(h + "attn.c_attn.weight"), p(h + "attn.c_attn.bias"));
      NDList parts = qkv.split(3, 2);
      NDArray q = heads(parts.get(0), batch, seq);
      NDArray k = heads(parts.get(1), batch, seq);
      NDArray v = heads(parts.get(2), batch, seq);
      if (cache != null) {
        if (cache.keys[i] != null) {
          NDArray oldK = cache.keys[i];
          NDArray oldV = cache.values[i];
          k = oldK.concat(k, 2);
          v = oldV.concat(v, 2);
          oldK.close();
          oldV.close();
        }
        cache.keys[i] = k;
        cache.values[i] = v;
      }
      NDArray w = q.matMul(k.transpose(0, 1, 3, 2));
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
      NDArray ctx = w.matMul(v).transpose(0, 2, 1, 3).reshape(batch, seq, config.nEmbd());
      NDArray attnOut = Ops.conv1d(ctx, p(h + "attn.c_proj.weight"), p(h + "attn.c_proj.bias"));
      attnOut = Ops.dropout(attnOut, config.residPdrop(), training);
      x = x.add(attnOut);
      NDArray b = Ops.layerNorm(x, p(h + "ln_2.weight"), p(h + "ln_2.bias"), config.layerNormEpsilon());
      NDArray ff = Ops.conv1d(b, p(h + "mlp.c_fc.weight"), p(h + "mlp.c_fc.bias"));
      ff = Ops.activation(config.activationFunction(), ff);
      ff = Ops.conv1d(ff, p(h + "mlp.c_proj.weight"), p(h + "mlp.c_proj.bias"));
      ff = Ops.dropout(ff, config.residPdrop(), training);
      x = x.add(ff);
    }
    if (cache != null) {
      cache.length = (int) total;
    }
    return Ops.layerNorm(x, p("transformer.ln_f.weight"), p("transformer.ln_f.bias"), config.layerNormEpsilon());
  }

  /**
   * Continues each prompt (token ids, any lengths: they are left-padded into one batch) as transformers'
   * {@code generate} does, returning each row's new tokens (up to and including its eos).
   */
  public List<int[]> generate(List<int[]> prompts, GenerationConfig generation) {
    return Generation.run(this, prompts, null, generation, null);
  }

  /** As {@link #generate(List, GenerationConfig)}, passing each token to {@code streamer} as it is chosen. */
  public List<int[]> generate(List<int[]> prompts, GenerationConfig generation, TokenStreamer streamer) {
    return Generation.run(this, prompts, null, generation, streamer);
  }

  /**
   * As {@link #generate(List, GenerationConfig, TokenStreamer)} with {@code token_type_ids} per prompt (each as
   * long as its prompt), as transformers' generate passes them: pads get type 0 (the tokenizer's
   * pad_token_type_id), and every new token repeats its row's last type. {@code streamer} may be null.
   */
  public List<int[]> generate(List<int[]> prompts, List<int[]> tokenTypeIds, GenerationConfig generation,
      TokenStreamer streamer) {
    return Generation.run(this, prompts, tokenTypeIds, generation, streamer);
  }

  /** [batch, seq, embd] → [batch, heads, seq, head_dim]. */
  private NDArray heads(NDArray t, long batch, long seq) {
    return t.reshape(batch, seq, config.nHead(), headDim).transpose(0, 2, 1, 3);
  }
}
