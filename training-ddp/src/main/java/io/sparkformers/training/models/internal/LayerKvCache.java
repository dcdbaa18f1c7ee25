package io.sparkformers.training.models.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.sparkformers.training.models.CausalLM;

/**
 * A decoder's key/value cache: per layer, the keys and values of the positions seen so far, each
 * [batch, heads, past, head_dim], grown along the sequence axis by {@link #append}.
 */
public final class LayerKvCache implements CausalLM.KvCache {
  private final NDArray[] keys;
  private final NDArray[] values;
  private int length;

  public LayerKvCache(int layers) {
    keys = new NDArray[layers];
    values = new NDArray[layers];
  }

  /**
   * Appends a layer's new keys and values and returns the whole of them, {keys, values}; the cache owns what it
   * returns (the previous tensors are closed).
   */
  public NDArray[] append(int layer, NDArray newKeys, NDArray newValues) {
    NDArray k = newKeys;
    NDArray v = newValues;
    if (keys[layer] != null) {
      k = keys[layer].concat(newKeys, 2);
      v = values[layer].concat(newValues, 2);
      keys[layer].close();
      values[layer].close();
    }
    keys[layer] = k;
    values[layer] = v;
    return new NDArray[] {k, v};
  }

  /** Records that the cache now covers {@code positions} positions (after every layer appended). */
  public void setLength(int positions) {
    length = positions;
  }

  @Override
  public int length() {
    return length;
  }

  @Override
  public void attach(NDManager manager) {
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
