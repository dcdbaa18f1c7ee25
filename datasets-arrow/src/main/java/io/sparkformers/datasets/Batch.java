package io.sparkformers.datasets;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.Collections;
import java.util.Map;
import java.util.Set;

/**
 * One batch from a {@link DataLoader}: named NDArrays on the loader's device. Closing it frees the arrays
 * (they belong to the batch's own NDManager).
 */
public final class Batch implements AutoCloseable {
  private final NDManager manager;
  private final Map<String, NDArray> arrays;
  private final int epoch;
  private final long index;
  private final int size;

  Batch(NDManager manager, Map<String, NDArray> arrays, int epoch, long index, int size) {
    this.manager = manager;
    this.arrays = Collections.unmodifiableMap(arrays);
    this.epoch = epoch;
    this.index = index;
    this.size = size;
  }

  /** The array named {@code name}, or an error naming the arrays there are. */
  public NDArray get(String name) {
    NDArray a = arrays.get(name);
    if (a == null) {
      throw new IllegalArgumentException("No array '" + name + "' in the batch; it holds " + arrays.keySet());
    }
    return a;
  }

  public Set<String> names() {
    return arrays.keySet();
  }

  public Map<String, NDArray> arrays() {
    return arrays;
  }

  /** The epoch this batch belongs to. */
  public int epoch() {
    return epoch;
  }

  /** The position of this batch in its epoch, from 0: after a restart, skip this many + 1. */
  public long index() {
    return index;
  }

  /** The number of examples in the batch. */
  public int size() {
    return size;
  }

  public NDManager manager() {
    return manager;
  }

  @Override
  public void close() {
    manager.close();
  }
}
