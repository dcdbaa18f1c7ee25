package io.sparkformers.datasets.internal;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Turns a reader that pushes rows into a consumer (our file parsers) into a pulling {@link RowIterator}: the
 * reader runs on its own thread, a bounded queue ahead of the consumer, so streaming starts at once and
 * memory stays bounded. Closing the iterator stops the reader. Rows may be handed over in chunks: one row at a
 * time the hand-over costs more than parsing the row does.
 */
public final class PushToPull implements RowIterator {
  private static final Object END = new Object();
  private final BlockingQueue<Object> queue;
  private final Thread thread;
  private final int chunkRows;
  private volatile boolean stopped;
  private Object next;
  /** The reader's rows not yet handed over (chunked mode). */
  private List<Object> pending;
  /** The rest of the chunk being read (chunked mode). */
  private Iterator<?> chunk;

  private static final class Stop extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Stop() {
      super(null, null, false, false);
    }
  }

  public PushToPull(Consumer<Consumer<Map<String, Object>>> reader, String name) {
    this(reader, name, 1);
  }

  /** Hands the rows over {@code chunkRows} at a time; about 1024 rows wait in the queue either way. */
  public PushToPull(Consumer<Consumer<Map<String, Object>>> reader, String name, int chunkRows) {
    this.chunkRows = Math.max(1, chunkRows);
    this.queue = new ArrayBlockingQueue<>(Math.max(2, 1024 / this.chunkRows));
    this.pending = new ArrayList<>(this.chunkRows);
    thread = new Thread(() -> {
      try {
        reader.accept(row -> add(row));
        flush();
        put(END);
      } catch (Stop e) {
        // closed by the consumer
      } catch (RuntimeException | Error e) {
        try {
          flush();
          put(e);
        } catch (Stop ignored) {
          // closed by the consumer
        }
      }
    }, "sparkformers-stream-" + name);
    thread.setDaemon(true);
    thread.start();
  }

  private void add(Map<String, Object> row) {
    if (chunkRows <= 1) {
      put(row);
      return;
    }
    pending.add(row);
    if (pending.size() >= chunkRows) {
      flush();
    }
  }

  private void flush() {
    if (!pending.isEmpty()) {
      put(pending);
      pending = new ArrayList<>(chunkRows);
    }
  }

  private void put(Object item) {
    try {
      while (!queue.offer(item, 100, TimeUnit.MILLISECONDS)) {
        if (stopped) {
          throw new Stop();
        }
      }
      if (stopped) {
        throw new Stop();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new Stop();
    }
  }

  @Override
  public boolean hasNext() {
    while (next == null) {
      if (chunk != null && chunk.hasNext()) {
        next = chunk.next();
        break;
      }
      try {
        Object item = queue.take();
        if (item instanceof List<?> rows) {
          chunk = rows.iterator();
        } else {
          next = item;
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("Interrupted while reading", e);
      }
    }
    if (next instanceof RuntimeException) {
      RuntimeException e = (RuntimeException) next;
      next = END;
      throw e;
    }
    if (next instanceof Error) {
      throw (Error) next;
    }
    return next != END;
  }

  @SuppressWarnings("unchecked")
  @Override
  public Map<String, Object> next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    Object row = next;
    next = null;
    return (Map<String, Object>) row;
  }

  @Override
  public void close() {
    stopped = true;
    queue.clear();
    chunk = null;
    try {
      thread.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
