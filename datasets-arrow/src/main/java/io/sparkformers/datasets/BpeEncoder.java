package io.sparkformers.datasets;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparkformers.datasets.internal.ByteLevel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Random;

/**
 * Byte-level BPE encoding in Java, for BPE-dropout: each merge the model would apply is skipped with probability
 * {@code dropout}, as the tokenizers library's BPE model does at encode time, but drawn from a seeded
 * {@link Random} so that a run can be repeated (the library draws from an unseeded thread RNG, and DJL's binding
 * offers no seed). Reads a GPT-2-style {@code tokenizer.json} (no normalizer, ByteLevel pre-tokenizer, BPE model
 * without prefixes or suffixes), such as {@link TokenizerTrainer#byteLevelBpe()} writes; without dropout its ids
 * are those of {@link Tokenizer#encode(String, int, boolean)} without special tokens. Added tokens in the text
 * are matched first, as the library does. Not thread-safe when dropout is on (one random stream).
 */
public final class BpeEncoder {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Map<String, Integer> vocab;
  /** (left id, right id) → {rank, id of the merged token}. */
  private final Map<Long, int[]> merges;
  private final List<Map.Entry<String, Integer>> addedTokens;
  private final boolean ignoreMerges;
  private final double dropout;
  private final Random random;

  private BpeEncoder(Map<String, Integer> vocab, Map<Long, int[]> merges, List<Map.Entry<String, Integer>> addedTokens,
      boolean ignoreMerges, double dropout, long seed) {
    this.vocab = vocab;
    this.merges = merges;
    this.addedTokens = addedTokens;
    this.ignoreMerges = ignoreMerges;
    if (!(dropout >= 0.0 && dropout <= 1.0)) {
      throw new IllegalArgumentException("dropout must be in [0, 1], got " + dropout);
    }
    this.dropout = dropout;
    this.random = new Random(seed);
  }

  /** Loads {@code tokenizerJson}; its model's {@code dropout} applies, drawn from a Random seeded with 0. */
  public static BpeEncoder load(Path tokenizerJson) {
    JsonNode root;
    try {
      root = JSON.readTree(tokenizerJson.toFile());
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot read " + tokenizerJson, e);
    }
    JsonNode model = root.path("model");
    String pre = root.path("pre_tokenizer").path("type").asText("");
    if (!model.path("type").asText().equals("BPE") || !pre.equals("ByteLevel") || !root.path("normalizer").isNull()
        && !root.path("normalizer").isMissingNode() || !model.path("continuing_subword_prefix").isNull()
        || !model.path("end_of_word_suffix").isNull()) {
      throw new IllegalArgumentException(tokenizerJson + ": BpeEncoder reads byte-level BPE tokenizers only (a BPE"
          + " model, a ByteLevel pre-tokenizer, no normalizer, no subword prefix or suffix)");
    }
    Map<String, Integer> vocab = new HashMap<>();
    model.path("vocab").fields().forEachRemaining(e -> vocab.put(e.getKey(), e.getValue().asInt()));
    Map<Long, int[]> merges = new HashMap<>();
    JsonNode list = model.path("merges");
    for (int rank = 0; rank < list.size(); rank++) {
      JsonNode m = list.get(rank);
      String left;
      String right;
      if (m.isArray()) {
        left = m.get(0).asText();
        right = m.get(1).asText();
      } else {
        String[] parts = m.asText().split(" ", 2);
        left = parts[0];
        right = parts[1];
      }
      Integer a = vocab.get(left);
      Integer b = vocab.get(right);
      Integer merged = vocab.get(left + right);
      if (a == null || b == null || merged == null) {
        throw new IllegalArgumentException(tokenizerJson + ": merge " + rank + " (" + left + " " + right
            + ") names a token the vocabulary lacks");
      }
      merges.putIfAbsent(pair(a, b), new int[] {rank, merged});
    }
    List<Map.Entry<String, Integer>> added = new ArrayList<>();
    for (JsonNode t : root.path("added_tokens")) {
      added.add(Map.entry(t.path("content").asText(), t.path("id").asInt()));
    }
    // The longest first, so that one added token that starts another does not cut it.
    added.sort((x, y) -> Integer.compare(y.getKey().length(), x.getKey().length()));
    double dropout = model.path("dropout").isNumber() ? model.path("dropout").asDouble() : 0.0;
    return new BpeEncoder(vocab, merges, added, model.path("ignore_merges").asBoolean(false), dropout, 0L);
  }

  /** This encoder with BPE-dropout {@code p} (0 for none), drawn from a Random seeded with {@code seed}. */
  public BpeEncoder withDropout(double p, long seed) {
    return new BpeEncoder(vocab, merges, addedTokens, ignoreMerges, p, seed);
  }

  public double dropout() {
    return dropout;
  }

  /** The ids of {@code text} (no special tokens are added around it). */
  public synchronized int[] encode(String text) {
    List<Integer> ids = new ArrayList<>();
    int start = 0;
    while (start <= text.length()) {
      int at = text.length();
      Map.Entry<String, Integer> found = null;
      for (Map.Entry<String, Integer> t : addedTokens) {
        int i = t.getKey().isEmpty() ? -1 : text.indexOf(t.getKey(), start);
        if (i >= 0 && i < at) {
          at = i;
          found = t;
        }
      }
      for (String word : ByteLevel.preTokenize(text.substring(start, at))) {
        encodeWord(word, ids);
      }
      if (found == null) {
        break;
      }
      ids.add(found.getValue());
      start = at + found.getKey().length();
    }
    return ids.stream().mapToInt(Integer::intValue).toArray();
  }

  private static long pair(int a, int b) {
    return ((long) a << 32) | (b & 0xffffffffL);
  }

  private record Merge(int pos, int rank, int newId) {}

  /** The library's merge loop: the lowest rank first (then the leftmost); a skipped merge returns after the next. */
  private void encodeWord(String word, List<Integer> out) {
    if (ignoreMerges && vocab.containsKey(word)) {
      out.add(vocab.get(word));
      return;
    }
    int n = word.length(); // byte-level characters are all in the BMP
    int[] c = new int[n];
    int[] prev = new int[n];
    int[] next = new int[n];
    boolean[] removed = new boolean[n];
    for (int i = 0; i < n; i++) {
      Integer id = vocab.get(word.substring(i, i + 1));
      if (id == null) {
        throw new IllegalArgumentException("The vocabulary has no token for '" + word.charAt(i) + "'");
      }
      c[i] = id;
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    PriorityQueue<Merge> queue = new PriorityQueue<>((x, y) -> x.rank != y.rank ? Integer.compare(x.rank, y.rank)
        : Integer.compare(x.pos, y.pos));
    for (int i = 0; i + 1 < n; i++) {
      int[] m = merges.get(pair(c[i], c[i + 1]));
      if (m != null) {
        queue.add(new Merge(i, m[0], m[1]));
      }
    }
    List<Merge> skipped = new ArrayList<>();
    while (!queue.isEmpty()) {
      Merge top = queue.poll();
      if (dropout > 0 && random.nextFloat() < dropout) {
        skipped.add(top);
        continue;
      }
      queue.addAll(skipped);
      skipped.clear();
      if (removed[top.pos] || next[top.pos] == -1) {
        continue;
      }
      int right = next[top.pos];
      int[] m = merges.get(pair(c[top.pos], c[right]));
      if (m == null || m[1] != top.newId) {
        continue; // a stale entry: one of the two symbols has merged since
      }
      c[top.pos] = top.newId;
      next[top.pos] = next[right];
      removed[right] = true;
      if (next[right] >= 0) {
        prev[next[right]] = top.pos;
      }
      if (prev[top.pos] >= 0) {
        int[] left = merges.get(pair(c[prev[top.pos]], c[top.pos]));
        if (left != null) {
          queue.add(new Merge(prev[top.pos], left[0], left[1]));
        }
      }
      if (next[top.pos] >= 0) {
        int[] after = merges.get(pair(c[top.pos], c[next[top.pos]]));
        if (after != null) {
          queue.add(new Merge(top.pos, after[0], after[1]));
        }
      }
    }
    for (int i = 0; i < n; i++) {
      if (!removed[i]) {
        out.add(c[i]);
      }
    }
  }
}
