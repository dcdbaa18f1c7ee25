package io.sparkformers.datasets.internal;

import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Turns a reader that pushes rows into a consumer (our file parsers) into a pulling {@link RowIterator}: the
 * reader runs on its own thread, a bounded queue ahead of the consumer, so streaming starts at once and
 * memory stays bounded. Closing the iterator stops the reader.
 */
public final class PushToPull implements RowIterator {
  private static final Object END = new Object();
  private final BlockingQueue<Object> queue = new ArrayBlockingQueue<>(1024);
  private final Thread thread;
  private volatile boolean stopped;
  private Object next;

  private static final class Stop extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Stop() {
      super(null, null, false, false);
    }
  }

  public PushToPull(Consumer<Consumer<Map<String, Object>>> reader, String name) {
    thread = new Thread(() -> {
      try {
        reader.accept(row -> put(row));
        put(END);
      } catch (Stop e) {
        // closed by the consumer
      } catch (RuntimeException | Error e) {
        try {
          put(e);
        } catch (Stop ignored) {
          // closed by the consumer
        }
      }
    }, "sparkformers-stream-" + name);
    thread.setDaemon(true);
    thread.start();
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
    if (next == null) {
      try {
        next = queue.take();
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
    try {
      thread.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
