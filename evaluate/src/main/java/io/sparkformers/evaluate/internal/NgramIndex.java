package io.sparkformers.evaluate.internal;

import java.util.Arrays;
import java.util.List;

/**
 * Gives every distinct n-gram of one segment a small integer id, exactly (no hashing of contents): the id of
 * an n-gram is looked up from the pair (id of its first n-1 tokens, id of its last token). Counting then works
 * on int arrays indexed by id. One instance per thread; {@link #clear()} between segments keeps it small.
 */
public final class NgramIndex {
  private long[] keys = new long[1024];
  private int[] values = new int[1024];
  private int mask = 1023;
  private int size;
  private int[] usedSlots = new int[256];
  private int next = 1;
  private int[] orderOf = new int[256];
  // Token strings to ids: open addressing, cleared by the slots used (no boxing, no nodes).
  private String[] tokens = new String[512];
  private int[] tokenValues = new int[512];
  private int tokenMask = 511;
  private int tokenCount;
  private int[] tokenSlots = new int[256];

  /** Forgets all ids. */
  public void clear() {
    for (int i = 0; i < size; i++) {
      keys[usedSlots[i]] = 0;
    }
    size = 0;
    next = 1;
    for (int i = 0; i < tokenCount; i++) {
      tokens[tokenSlots[i]] = null;
    }
    tokenCount = 0;
  }

  /** One past the largest id given out so far. */
  public int idLimit() {
    return next;
  }

  /** The n-gram order of an id. */
  public int order(int id) {
    return orderOf[id];
  }

  /** Token ids (from 1) for string tokens; equal strings get equal ids until {@link #clear()}. */
  public int[] tokenIds(List<String> list) {
    int[] out = new int[list.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = tokenId(list.get(i));
    }
    return out;
  }

  private int tokenId(String t) {
    int slot = (t.hashCode() * 0x9E3779B9) >>> 7 & tokenMask;
    while (true) {
      String k = tokens[slot];
      if (k == null) {
        break;
      }
      if (k.equals(t)) {
        return tokenValues[slot];
      }
      slot = (slot + 1) & tokenMask;
    }
    int id = tokenCount + 1;
    tokens[slot] = t;
    tokenValues[slot] = id;
    if (tokenCount == tokenSlots.length) {
      tokenSlots = Arrays.copyOf(tokenSlots, tokenCount * 2);
    }
    tokenSlots[tokenCount++] = slot;
    if (tokenCount * 2 > tokens.length) {
      growTokens();
    }
    return id;
  }

  private void growTokens() {
    String[] oldKeys = tokens;
    int[] oldValues = tokenValues;
    int[] oldSlots = Arrays.copyOf(tokenSlots, tokenCount);
    tokens = new String[oldKeys.length * 2];
    tokenValues = new int[oldKeys.length * 2];
    tokenMask = tokens.length - 1;
    tokenSlots = new int[Math.max(256, tokenCount * 2)];
    for (int i = 0; i < oldSlots.length; i++) {
      String k = oldKeys[oldSlots[i]];
      int slot = (k.hashCode() * 0x9E3779B9) >>> 7 & tokenMask;
      while (tokens[slot] != null) {
        slot = (slot + 1) & tokenMask;
      }
      tokens[slot] = k;
      tokenValues[slot] = oldValues[oldSlots[i]];
      tokenSlots[i] = slot;
    }
  }

  /**
   * The ids of all n-grams of orders 1..maxOrder: result[k-1][i] is the n-gram of order k starting at i.
   * Token values must be at least 1 (token ids, or code points + 1).
   */
  public int[][] ngrams(int[] tokens, int maxOrder) {
    int[][] out = new int[maxOrder][];
    int[] prev = null;
    for (int k = 1; k <= maxOrder; k++) {
      int count = Math.max(0, tokens.length - k + 1);
      int[] ids = new int[count];
      for (int i = 0; i < count; i++) {
        long prefix = k == 1 ? 0 : prev[i];
        ids[i] = idOf((prefix << 32) | (tokens[i + k - 1] & 0xffffffffL), k);
      }
      out[k - 1] = ids;
      prev = ids;
    }
    return out;
  }

  private int idOf(long key, int order) {
    int slot = mix(key) & mask;
    while (true) {
      long k = keys[slot];
      if (k == key) {
        return values[slot];
      }
      if (k == 0) {
        break;
      }
      slot = (slot + 1) & mask;
    }
    int id = next++;
    if (id >= orderOf.length) {
      orderOf = Arrays.copyOf(orderOf, orderOf.length * 2);
    }
    orderOf[id] = order;
    keys[slot] = key;
    values[slot] = id;
    if (size == usedSlots.length) {
      usedSlots = Arrays.copyOf(usedSlots, size * 2);
    }
    usedSlots[size++] = slot;
    if (size * 2 > keys.length) {
      grow();
    }
    return id;
  }

  private void grow() {
    long[] oldKeys = keys;
    int[] oldValues = values;
    int[] oldUsed = Arrays.copyOf(usedSlots, size);
    keys = new long[oldKeys.length * 2];
    values = new int[oldKeys.length * 2];
    mask = keys.length - 1;
    usedSlots = new int[Math.max(256, size * 2)];
    int n = size;
    size = 0;
    for (int i = 0; i < n; i++) {
      long key = oldKeys[oldUsed[i]];
      int slot = mix(key) & mask;
      while (keys[slot] != 0) {
        slot = (slot + 1) & mask;
      }
      keys[slot] = key;
      values[slot] = oldValues[oldUsed[i]];
      usedSlots[size++] = slot;
    }
  }

  private static int mix(long key) {
    long h = key * 0x9E3779B97F4A7C15L;
    return (int) (h ^ (h >>> 29) ^ (h >>> 47));
  }
}
