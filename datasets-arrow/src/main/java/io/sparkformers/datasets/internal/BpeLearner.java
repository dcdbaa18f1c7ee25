package io.sparkformers.datasets.internal;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.TreeSet;

/**
 * Learns BPE merges from word counts as Hugging Face tokenizers' {@code BpeTrainer} does: special tokens
 * first, then the alphabet sorted by code point, then one token per merge of the most frequent adjacent pair
 * (ties to the pair of smaller ids), until the vocabulary is full or no pair is frequent enough. With a
 * continuing-subword prefix ("##" for WordPiece), symbols after a word's first carry the prefix.
 */
public final class BpeLearner {
  /** The learned vocabulary (token → id, in id order) and merges in order. */
  public record Result(List<String> vocab, List<String[]> merges) {}

  private BpeLearner() {}

  public static Result learn(Map<String, Long> wordCounts, List<String> specialTokens, List<String> initialAlphabet,
      int vocabSize, long minFrequency, String prefix) {
    List<String> idToToken = new ArrayList<>();
    Map<String, Integer> tokenToId = new HashMap<>();
    for (String s : specialTokens) {
      add(s, idToToken, tokenToId);
    }
    TreeSet<Integer> alphabet = new TreeSet<>();
    initialAlphabet.forEach(a -> alphabet.add(a.codePointAt(0)));
    for (String w : wordCounts.keySet()) {
      w.codePoints().forEach(alphabet::add);
    }
    for (int c : alphabet) {
      add(new String(Character.toChars(c)), idToToken, tokenToId);
    }
    // Words as symbol ids; symbols after the first carry the prefix.
    List<int[]> words = new ArrayList<>();
    List<Long> counts = new ArrayList<>();
    for (Map.Entry<String, Long> e : wordCounts.entrySet()) {
      int[] cps = e.getKey().codePoints().toArray();
      int[] ids = new int[cps.length];
      for (int i = 0; i < cps.length; i++) {
        String sym = (i > 0 && !prefix.isEmpty() ? prefix : "") + new String(Character.toChars(cps[i]));
        ids[i] = add(sym, idToToken, tokenToId);
      }
      words.add(ids);
      counts.add(e.getValue());
    }
    Map<Long, Long> pairCounts = new HashMap<>();
    Map<Long, Set<Integer>> where = new HashMap<>();
    for (int w = 0; w < words.size(); w++) {
      countPairs(words.get(w), counts.get(w), w, pairCounts, where, 1);
    }
    // Max count first, then the smaller pair.
    PriorityQueue<long[]> queue = new PriorityQueue<>((x, y) -> x[0] != y[0] ? Long.compare(y[0], x[0])
        : Long.compare(x[1], y[1]));
    pairCounts.forEach((pair, count) -> {
      if (count > 0) {
        queue.add(new long[] {count, pair});
      }
    });
    List<String[]> merges = new ArrayList<>();
    while (idToToken.size() < vocabSize && !queue.isEmpty()) {
      long[] top = queue.poll();
      long pair = top[1];
      long current = pairCounts.getOrDefault(pair, 0L);
      if (top[0] != current) {
        if (current > 0) {
          queue.add(new long[] {current, pair});
        }
        continue;
      }
      if (current < minFrequency || current == 0) {
        break;
      }
      int a = (int) (pair >>> 32);
      int b = (int) pair;
      String left = idToToken.get(a);
      String right = idToToken.get(b);
      String merged = left + (!prefix.isEmpty() && right.startsWith(prefix) ? right.substring(prefix.length()) : right);
      int newId = add(merged, idToToken, tokenToId);
      merges.add(new String[] {left, right});
      Set<Integer> touched = new HashSet<>(where.getOrDefault(pair, Set.of()));
      Set<Long> changed = new HashSet<>();
      for (int w : touched) {
        int[] word = words.get(w);
        countPairs(word, counts.get(w), w, pairCounts, where, -1);
        int[] next = mergeIn(word, a, b, newId);
        words.set(w, next);
        countPairs(next, counts.get(w), w, pairCounts, where, 1);
        for (int i = 0; i + 1 < next.length; i++) {
          long p = key(next[i], next[i + 1]);
          changed.add(p);
        }
      }
      pairCounts.remove(pair);
      // Queue the pairs of the changed words at their new counts (stale entries are re-queued when popped).
      for (long p : changed) {
        Long c = pairCounts.get(p);
        if (c != null && c > 0) {
          queue.add(new long[] {c, p});
        }
      }
    }
    return new Result(idToToken, merges);
  }

  private static int add(String token, List<String> idToToken, Map<String, Integer> tokenToId) {
    Integer id = tokenToId.get(token);
    if (id != null) {
      return id;
    }
    tokenToId.put(token, idToToken.size());
    idToToken.add(token);
    return idToToken.size() - 1;
  }

  private static long key(int a, int b) {
    return ((long) a << 32) | (b & 0xffffffffL);
  }

  private static void countPairs(int[] word, long count, int w, Map<Long, Long> pairCounts,
      Map<Long, Set<Integer>> where, int sign) {
    for (int i = 0; i + 1 < word.length; i++) {
      long p = key(word[i], word[i + 1]);
      pairCounts.merge(p, sign * count, Long::sum);
      if (sign > 0) {
        where.computeIfAbsent(p, k -> new HashSet<>()).add(w);
      }
    }
  }

  private static int[] mergeIn(int[] word, int a, int b, int merged) {
    int[] out = new int[word.length];
    int n = 0;
    for (int i = 0; i < word.length; i++) {
      if (i + 1 < word.length && word[i] == a && word[i + 1] == b) {
        out[n++] = merged;
        i++;
      } else {
        out[n++] = word[i];
      }
    }
    return java.util.Arrays.copyOf(out, n);
  }
}
