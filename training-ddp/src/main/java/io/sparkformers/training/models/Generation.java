package io.sparkformers.training.models;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import io.sparkformers.training.models.internal.LogitsProcessors;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * transformers' {@code generate} for a causal LM: left-padded batch, attention mask, position ids
 * {@code cumsum(mask) − 1} (pads at 1), logits processors, greedy or seeded sampling, eos stopping with pad
 * filling for finished rows, with or without the key/value cache.
 */
final class Generation {
  private Generation() {}

  static List<int[]> run(CausalLM model, List<int[]> prompts, List<int[]> tokenTypes, GenerationConfig gen,
      TokenStreamer streamer) {
    try {
      return decode(model, prompts, tokenTypes, gen, streamer);
    } finally {
      if (streamer != null) {
        streamer.end();
      }
    }
  }

  private static List<int[]> decode(CausalLM model, List<int[]> prompts, List<int[]> tokenTypes,
      GenerationConfig gen, TokenStreamer streamer) {
    if (prompts.isEmpty()) {
      return List.of();
    }
    int batch = prompts.size();
    int promptLen = 0;
    for (int r = 0; r < batch; r++) {
      int[] p = prompts.get(r);
      if (p.length == 0) {
        throw new IllegalArgumentException("prompt " + r + " is empty: generation needs at least one token");
      }
      for (int i = 0; i < p.length; i++) {
        if (p[i] < 0 || p[i] >= model.vocabSize()) {
          throw new IllegalArgumentException("prompt " + r + ", token " + i + ": id " + p[i]
              + " is outside the vocabulary [0, " + model.vocabSize() + ")");
        }
      }
      if (p.length > model.maxPositions()) {
        throw new IllegalArgumentException("prompt " + r + " has " + p.length
            + " tokens, longer than the model's context (" + model.maxPositionsKey() + " " + model.maxPositions()
            + ")");
      }
      promptLen = Math.max(promptLen, p.length);
      if (tokenTypes != null) {
        int[] t = r < tokenTypes.size() ? tokenTypes.get(r) : null;
        if (t == null || t.length != p.length) {
          throw new IllegalArgumentException("token_type_ids of prompt " + r + ": expected " + p.length
              + " ids (one per prompt token), got " + (t == null ? "none" : String.valueOf(t.length)));
        }
        for (int i = 0; i < t.length; i++) {
          if (t[i] < 0 || t[i] >= model.vocabSize()) {
            throw new IllegalArgumentException("token_type_ids of prompt " + r + ", position " + i + ": " + t[i]
                + " is outside the vocabulary [0, " + model.vocabSize() + ") that GPT-2 embeds them with");
          }
        }
      }
    }
    if (tokenTypes != null && tokenTypes.size() != batch) {
      throw new IllegalArgumentException("token_type_ids for " + tokenTypes.size() + " prompts, expected one per"
          + " prompt (" + batch + ")");
    }
    int maxNew = gen.maxNewTokens();
    if (promptLen + maxNew > model.maxPositions()) {
      throw new IllegalArgumentException("the longest prompt (" + promptLen + " tokens) plus max_new_tokens "
          + maxNew + " exceeds the model's context (" + model.maxPositionsKey() + " " + model.maxPositions() + ")");
    }
    List<Integer> eos = gen.eosTokenIds() != null ? gen.eosTokenIds() : model.eosTokenIds();
    int pad = gen.padTokenId() != null ? gen.padTokenId()
        : model.padTokenId() != null ? model.padTokenId() : eos.isEmpty() ? 0 : eos.get(0);

    int capacity = promptLen + maxNew;
    int[][] ids = new int[batch][capacity];
    int[][] mask = new int[batch][capacity];
    // Pads get token type 0 (tokenizers' pad_token_type_id); the arrays start zeroed.
    int[][] types = tokenTypes == null ? null : new int[batch][capacity];
    for (int r = 0; r < batch; r++) {
      int[] p = prompts.get(r);
      int offset = promptLen - p.length;
      Arrays.fill(ids[r], 0, offset, pad);
      System.arraycopy(p, 0, ids[r], offset, p.length);
      Arrays.fill(mask[r], offset, promptLen, 1);
      if (types != null) {
        System.arraycopy(tokenTypes.get(r), 0, types[r], offset, p.length);
      }
    }
    boolean[] finished = new boolean[batch];
    List<List<Integer>> generated = new ArrayList<>();
    for (int r = 0; r < batch; r++) {
      generated.add(new ArrayList<>());
    }
    SplittableRandom random = new SplittableRandom(gen.seed());
    int length = promptLen;
    boolean gradBefore = JniUtils.isGradMode();
    JniUtils.setGradMode(false);
    try (NDManager scope = model.manager().newSubManager()) {
      CausalLM.KvCache cache = gen.useCache() ? model.newCache() : null;
      for (int step = 0; step < maxNew; step++) {
        float[][] scores = new float[batch][];
        try (NDManager stepManager = scope.newSubManager()) {
          int from = cache == null || step == 0 ? 0 : length - 1;
          int width = length - from;
          int[] flatIds = new int[batch * width];
          int[] flatMask = new int[batch * length];
          int[] flatPos = new int[batch * width];
          int[] flatTypes = types == null ? null : new int[batch * width];
          for (int r = 0; r < batch; r++) {
            System.arraycopy(ids[r], from, flatIds, r * width, width);
            if (types != null) {
              System.arraycopy(types[r], from, flatTypes, r * width, width);
            }
            System.arraycopy(mask[r], 0, flatMask, r * length, length);
            int count = 0;
            for (int t = 0; t < length; t++) {
              count += mask[r][t];
              // position_ids = cumsum(mask) − 1, masked_fill(mask == 0, 1): what generate feeds GPT-2.
              if (t >= from) {
                flatPos[r * width + (t - from)] = mask[r][t] == 0 ? 1 : count - 1;
              }
            }
          }
          NDArray idArray = stepManager.create(flatIds, new Shape(batch, width));
          NDArray maskArray = stepManager.create(flatMask, new Shape(batch, length));
          NDArray posArray = stepManager.create(flatPos, new Shape(batch, width));
          NDArray typeArray = types == null ? null : stepManager.create(flatTypes, new Shape(batch, width));
          NDArray logits = model.forward(idArray, maskArray, posArray, typeArray, cache, false);
          float[] last = logits.get(":, -1, :").toFloatArray();
          int vocab = (int) logits.getShape().get(2);
          for (int r = 0; r < batch; r++) {
            scores[r] = Arrays.copyOfRange(last, r * vocab, (r + 1) * vocab);
          }
          if (cache != null) {
            cache.attach(scope);
          }
        }
        for (int r = 0; r < batch; r++) {
          int token = pad;
          float[] s = scores[r];
          LogitsProcessors.repetitionPenalty(s, ids[r], length, gen.repetitionPenalty());
          if (gen.doSample()) {
            LogitsProcessors.temperature(s, gen.temperature());
            LogitsProcessors.topK(s, gen.topK());
            LogitsProcessors.topP(s, gen.topP());
            // Every row draws, finished or not, so a row's draws do not depend on the others finishing.
            double u = random.nextDouble();
            if (!finished[r]) {
              token = LogitsProcessors.sample(LogitsProcessors.softmax(s), u);
            }
          } else if (!finished[r]) {
            token = LogitsProcessors.argmax(s);
          }
          ids[r][length] = token;
          mask[r][length] = 1;
          if (types != null) {
            // transformers' _update_model_kwargs_for_generation: cat(token_type_ids, token_type_ids[:, -1]).
            types[r][length] = types[r][length - 1];
          }
          if (!finished[r]) {
            generated.get(r).add(token);
            if (streamer != null) {
              streamer.put(r, token);
            }
            if (eos.contains(token)) {
              finished[r] = true;
            }
          }
        }
        length++;
        boolean all = true;
        for (boolean f : finished) {
          all &= f;
        }
        if (all) {
          break;
        }
      }
    } finally {
      JniUtils.setGradMode(gradBefore);
    }
    List<int[]> out = new ArrayList<>();
    for (List<Integer> g : generated) {
      out.add(g.stream().mapToInt(Integer::intValue).toArray());
    }
    return out;
  }
}
