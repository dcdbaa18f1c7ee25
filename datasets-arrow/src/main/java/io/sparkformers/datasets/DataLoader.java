package io.sparkformers.datasets;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Yields batches of a {@link Dataset} as DJL NDArrays, like PyTorch's {@code DataLoader} under a Hugging Face
 * Trainer: batch size, drop_last, a seeded shuffle per epoch, a collator, a background prefetch thread, and a
 * resumable position ({@link #epoch(int, long)} skips the first batches of an epoch without reading them).
 *
 * <pre>{@code
 * try (DataLoader loader = new DataLoader(train, manager, options);
 *     DataLoader.Epoch epoch = loader.epoch(0, 0)) {
 *   while (epoch.hasNext()) {
 *     try (Batch batch = epoch.next()) { ... batch.get("input_ids") ... }
 *   }
 * }
 * }</pre>
 */
public final class DataLoader implements AutoCloseable {
  private final Dataset dataset;
  private final NDManager manager;
  private final DataLoaderOptions options;
  private final EpochSampler sampler;

  /** Reads {@code dataset} (not closed by the loader); arrays are created under {@code manager}. */
  public DataLoader(Dataset dataset, NDManager manager, DataLoaderOptions options) {
    this.dataset = dataset;
    this.manager = manager;
    this.options = options;
    this.sampler = EpochSampler.builder(dataset.numRows()).batchSize(options.batchSize())
        .order(options.shuffle() ? EpochSampler.Order.NUMPY_PERMUTATION : EpochSampler.Order.SEQUENTIAL,
            options.seed())
        .lastBatch(options.dropLast() ? EpochSampler.LastBatch.DROP : EpochSampler.LastBatch.KEEP)
        .batchesPerEpoch(options.batchesPerEpoch()).build();
  }

  /**
   * The number of batches every rank should take per epoch when {@code totalRows} are split by
   * {@link Dataset#splitByNode} over {@code worldSize} ranks: that of the largest shard.
   */
  public static long evenBatchesPerEpoch(long totalRows, int worldSize, int batchSize, boolean dropLast) {
    long largest = (totalRows + worldSize - 1) / worldSize;
    return dropLast ? largest / batchSize : (largest + batchSize - 1) / batchSize;
  }

  /** The number of batches in each epoch. */
  public long batchesPerEpoch() {
    return sampler.batchesPerEpoch();
  }

  /** The order in which epoch {@code epoch} reads the dataset's rows. */
  long[] order(int epoch) {
    return sampler.order(epoch);
  }

  /** Iterates epoch {@code epoch}, starting after its first {@code skipBatches} batches. Close it when done. */
  public Epoch epoch(int epoch, long skipBatches) {
    if (skipBatches < 0) {
      throw new IllegalArgumentException("skipBatches must be 0 or more, got " + skipBatches);
    }
    return new Epoch(epoch, skipBatches);
  }

  private Batch makeBatch(long[] order, int epoch, long index) {
    if (order.length == 0) {
      throw new IllegalStateException("The dataset is empty: there is nothing to batch");
    }
    long[] rows = sampler.batch(order, index);
    int size = rows.length;
    List<Map<String, Object>> examples = new ArrayList<>(size);
    for (long row : rows) {
      examples.add(dataset.row(row));
    }
    NDManager batchManager = options.device() != null ? manager.newSubManager(options.device())
        : manager.newSubManager();
    try {
      Map<String, NDArray> arrays = options.collator().collate(examples, batchManager);
      return new Batch(batchManager, arrays, epoch, index, size);
    } catch (RuntimeException e) {
      batchManager.close();
      throw new IllegalStateException("Cannot collate batch " + index + " of epoch " + epoch + ": " + e.getMessage(),
          e);
    }
  }

  @Override
  public void close() {
    // The loader owns no resources beyond its epochs; kept AutoCloseable so that callers scope it.
  }

  /** The batches of one epoch. With prefetch, a background thread prepares the next batches. */
  public final class Epoch implements Iterator<Batch>, AutoCloseable {
    private final int epoch;
    private final long[] order;
    private final long total;
    private long next;
    private final BlockingQueue<Object> queue;
    private final Thread worker;
    private volatile boolean stopped;

    private Epoch(int epoch, long skip) {
      this.epoch = epoch;
      this.order = order(epoch);
      this.total = batchesPerEpoch();
      this.next = Math.min(skip, total);
      if (options.prefetch() > 0 && next < total) {
        queue = new ArrayBlockingQueue<>(options.prefetch());
        long first = next;
        worker = new Thread(() -> produce(first), "sparkformers-dataloader-prefetch");
        worker.setDaemon(true);
        worker.start();
      } else {
        queue = null;
        worker = null;
      }
    }

    private void produce(long from) {
      try {
        for (long i = from; i < total && !stopped; i++) {
          Object item;
          try {
            item = makeBatch(order, epoch, i);
          } catch (RuntimeException e) {
            item = e;
          }
          while (!stopped && !queue.offer(item, 100, TimeUnit.MILLISECONDS)) {
            // wait for the consumer
          }
          if (stopped && item instanceof Batch) {
            ((Batch) item).close();
          }
          if (item instanceof RuntimeException) {
            return;
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    @Override
    public boolean hasNext() {
      return !stopped && next < total;
    }

    /** The next batch; the caller closes it. */
    @Override
    public Batch next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      long index = next++;
      if (queue == null) {
        return makeBatch(order, epoch, index);
      }
      try {
        Object item = queue.take();
        if (item instanceof RuntimeException) {
          throw (RuntimeException) item;
        }
        return (Batch) item;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("Interrupted while waiting for a batch", e);
      }
    }

    /** The position to resume from: the number of batches of this epoch handed out so far. */
    public long position() {
      return next;
    }

    @Override
    public void close() {
      stopped = true;
      if (worker != null) {
        try {
          worker.join();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        for (Object item; (item = queue.poll()) != null; ) {
          if (item instanceof Batch) {
            ((Batch) item).close();
          }
        }
      }
    }
  }
}
