package io.sparkformers.datasets.internal;

import java.util.Iterator;
import java.util.Map;

/** An iterator over rows that holds a resource (an open file, a reading thread) until closed. */
public interface RowIterator extends Iterator<Map<String, Object>>, AutoCloseable {
  @Override
  void close();

  /** Rows from a plain iterator that holds nothing. */
  static RowIterator of(Iterator<Map<String, Object>> it) {
    return new RowIterator() {
      @Override
      public boolean hasNext() {
        return it.hasNext();
      }

      @Override
      public Map<String, Object> next() {
        return it.next();
      }

      @Override
      public void close() {}
    };
  }
}
