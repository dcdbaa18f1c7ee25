package io.sparkformers.datasets;

import io.sparkformers.datasets.internal.CsvReader;
import io.sparkformers.datasets.internal.InputFiles;
import io.sparkformers.datasets.internal.InputFiles.InputFile;
import io.sparkformers.datasets.internal.JsonReader;
import io.sparkformers.datasets.internal.NumpyRandom;
import io.sparkformers.datasets.internal.PushToPull;
import io.sparkformers.datasets.internal.RowIterator;
import io.sparkformers.datasets.internal.Utf8LineReader;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * A dataset read as it is iterated, like Hugging Face's {@code IterableDataset} (streaming): files are read
 * one after the other (each file is a shard) without a cache, and transforms run lazily. Immutable: every
 * method returns a new {@code IterableDataset}; {@link #iterator()} opens the files and must be closed.
 *
 * <p>The random parts follow Hugging Face's code with numpy's generator, so the same seed gives the same
 * order: {@link #shuffle(long, int)} shuffles the shard order and then draws from a buffer of examples;
 * {@link #setEpoch} reseeds it per epoch; {@link #interleave} draws sources with given probabilities.
 */
public final class IterableDataset {
  /** What an iteration is asked to do by the nodes above a source. */
  private record Context(NumpyRandom shardShuffle, int rank, int worldSize) {}

  /** A step of the lazy pipeline. */
  private interface Node {
    RowIterator open(Context context);

    int numShards();
  }

  private final Node node;
  private final Features features;
  private final Long shuffleSeed;
  private final int epoch;
  private final int rank;
  private final int worldSize;

  private IterableDataset(Node node, Features features, Long shuffleSeed, int epoch, int rank, int worldSize) {
    this.node = node;
    this.features = features;
    this.shuffleSeed = shuffleSeed;
    this.epoch = epoch;
    this.rank = rank;
    this.worldSize = worldSize;
  }

  private IterableDataset with(Node next, Features f) {
    return new IterableDataset(next, f, shuffleSeed, epoch, rank, worldSize);
  }

  // ---------------------------------------------------------------- sources

  /** Rows of the first file's first lines decide the types (1000 rows, as a streaming reader must guess). */
  static final int INFER_ROWS = 1000;

  /**
   * Streams files (local, globs, folders, {@code s3a://} ...), one shard per file. CSV and JSON column types
   * are inferred from the first {@value #INFER_ROWS} rows of the first non-empty file unless
   * {@link LoadOptions#features()} gives them; a later value that does not fit is an error naming its file
   * and line.
   */
  public static IterableDataset fromFiles(DataFormat format, LoadOptions options, String... locations) {
    InputFiles inputs = new InputFiles(options.hadoopConfiguration());
    List<InputFile> files = inputs.resolve(List.of(locations));
    Features features = options.features() != null ? options.features() : inferFirst(format, options, inputs, files);
    List<Supplier<RowIterator>> shards = new ArrayList<>();
    for (InputFile f : files) {
      shards.add(() -> new PushToPull(sink -> DatasetLoader.readFile(format, options, inputs, f, features, sink),
          f.uri()));
    }
    return new IterableDataset(new Source(shards), features, null, 0, 0, 1);
  }

  private static Features inferFirst(DataFormat format, LoadOptions options, InputFiles inputs, List<InputFile> files) {
    for (InputFile f : files) {
      Map<String, ColumnType> found;
      switch (format) {
        case CSV:
          try (Utf8LineReader lines = new Utf8LineReader(inputs.open(f), f.uri()).limitLines(INFER_ROWS + 1)) {
            found = new CsvReader(options.delimiter(), options.quote(), options.header(), options.columnNames())
                .infer(lines).asMap();
          }
          break;
        case JSON:
          found = JsonReader.infer(() -> inputs.open(f), f.uri(), INFER_ROWS);
          break;
        default:
          return DatasetLoader.inferAll(format, options, inputs, List.of(f));
      }
      if (!found.isEmpty()) {
        Features.Builder b = Features.builder();
        found.forEach((n, t) -> b.add(n, t == null ? ColumnType.STRING : t));
        return b.build();
      }
    }
    return format == DataFormat.TEXT ? Features.of("text", ColumnType.STRING) : Features.empty();
  }

  /** Streams a map-style dataset in {@code numShards} contiguous shards ({@code to_iterable_dataset}). */
  public static IterableDataset fromDataset(Dataset dataset, int numShards) {
    List<Supplier<RowIterator>> shards = new ArrayList<>();
    long n = dataset.numRows();
    for (int i = 0; i < numShards; i++) {
      long div = n / numShards;
      long mod = n % numShards;
      long start = div * i + Math.min(i, mod);
      long end = start + div + (i < mod ? 1 : 0);
      shards.add(() -> RowIterator.of(new Iterator<>() {
        private long next = start;

        @Override
        public boolean hasNext() {
          return next < end;
        }

        @Override
        public Map<String, Object> next() {
          return dataset.row(next++);
        }
      }));
    }
    return new IterableDataset(new Source(shards), dataset.features(), null, 0, 0, 1);
  }

  /** Shards read one after the other, in shuffled order when asked. */
  private static final class Source implements Node {
    private final List<Supplier<RowIterator>> shards;

    Source(List<Supplier<RowIterator>> shards) {
      this.shards = shards;
    }

    @Override
    public int numShards() {
      return shards.size();
    }

    @Override
    public RowIterator open(Context context) {
      long[] order = new long[shards.size()];
      for (int i = 0; i < order.length; i++) {
        order[i] = i;
      }
      if (context.shardShuffle() != null) {
        context.shardShuffle().copy().shuffle(order);
      }
      List<Supplier<RowIterator>> mine = new ArrayList<>();
      for (int i = 0; i < order.length; i++) {
        if (i % context.worldSize() == context.rank()) {
          mine.add(shards.get((int) order[i]));
        }
      }
      return new RowIterator() {
        private int shard = -1;
        private RowIterator current;

        @Override
        public boolean hasNext() {
          while (current == null || !current.hasNext()) {
            if (current != null) {
              current.close();
              current = null;
            }
            if (++shard >= mine.size()) {
              return false;
            }
            current = mine.get(shard).get();
          }
          return true;
        }

        @Override
        public Map<String, Object> next() {
          if (!hasNext()) {
            throw new NoSuchElementException();
          }
          return current.next();
        }

        @Override
        public void close() {
          if (current != null) {
            current.close();
          }
        }
      };
    }
  }

  /** A node that transforms the rows of its parent. */
  private abstract static class Step implements Node {
    final Node parent;

    Step(Node parent) {
      this.parent = parent;
    }

    @Override
    public int numShards() {
      return parent.numShards();
    }
  }

  /** Wraps {@code it}, closing it with the wrapper. */
  private abstract static class Wrapped implements RowIterator {
    final RowIterator in;
    Map<String, Object> next;

    Wrapped(RowIterator in) {
      this.in = in;
    }

    abstract Map<String, Object> advance();

    @Override
    public boolean hasNext() {
      if (next == null) {
        next = advance();
      }
      return next != null;
    }

    @Override
    public Map<String, Object> next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      Map<String, Object> r = next;
      next = null;
      return r;
    }

    @Override
    public void close() {
      in.close();
    }
  }

  // ---------------------------------------------------------------- transforms

  /** Lazily applies {@code function} to each row; the row it returns updates the input row. */
  public IterableDataset map(Function<Map<String, Object>, Map<String, ?>> function) {
    Node next = new Step(node) {
      @Override
      public RowIterator open(Context c) {
        RowIterator in = parent.open(c);
        return new Wrapped(in) {
          private long index;

          @Override
          Map<String, Object> advance() {
            if (!in.hasNext()) {
              return null;
            }
            Map<String, Object> row = new LinkedHashMap<>(in.next());
            Map<String, ?> update;
            try {
              update = function.apply(new LinkedHashMap<>(row));
            } catch (RuntimeException e) {
              throw new TransformException("map function failed on example " + index + ": " + e, index, e);
            }
            index++;
            if (update != null) {
              row.putAll(update);
            }
            return row;
          }
        };
      }
    };
    return with(next, null);
  }

  /** Lazily keeps the rows for which {@code predicate} holds. */
  public IterableDataset filter(Predicate<Map<String, Object>> predicate) {
    Node next = new Step(node) {
      @Override
      public RowIterator open(Context c) {
        RowIterator in = parent.open(c);
        return new Wrapped(in) {
          private long index;

          @Override
          Map<String, Object> advance() {
            while (in.hasNext()) {
              Map<String, Object> row = in.next();
              boolean keep;
              try {
                keep = predicate.test(row);
              } catch (RuntimeException e) {
                throw new TransformException("filter failed on example " + index + ": " + e, index, e);
              }
              index++;
              if (keep) {
                return row;
              }
            }
            return null;
          }
        };
      }
    };
    return with(next, features);
  }

  /** The first {@code n} examples. */
  public IterableDataset take(long n) {
    Node next = new Step(node) {
      @Override
      public RowIterator open(Context c) {
        RowIterator in = parent.open(c);
        return new Wrapped(in) {
          private long taken;

          @Override
          Map<String, Object> advance() {
            if (taken >= n || !in.hasNext()) {
              return null;
            }
            taken++;
            return in.next();
          }
        };
      }
    };
    return with(next, features);
  }

  /** All but the first {@code n} examples. */
  public IterableDataset skip(long n) {
    Node next = new Step(node) {
      @Override
      public RowIterator open(Context c) {
        RowIterator in = parent.open(c);
        return new Wrapped(in) {
          private boolean skipped;

          @Override
          Map<String, Object> advance() {
            if (!skipped) {
              skipped = true;
              for (long i = 0; i < n && in.hasNext(); i++) {
                in.next();
              }
            }
            return in.hasNext() ? in.next() : null;
          }
        };
      }
    };
    return with(next, features);
  }

  /**
   * Shuffles: the shard order with numpy's {@code default_rng(seed)} (reseeded per epoch), then examples
   * through a buffer of {@code bufferSize}: once full, each new example replaces a random one of the buffer,
   * which is emitted (Hugging Face's {@code BufferShuffledExamplesIterable}).
   */
  public IterableDataset shuffle(long seed, int bufferSize) {
    if (bufferSize <= 0) {
      throw new IllegalArgumentException("bufferSize must be positive, got " + bufferSize);
    }
    Node inner = node;
    Node next = new Node() {
      @Override
      public int numShards() {
        return inner.numShards();
      }

      @Override
      public RowIterator open(Context c) {
        NumpyRandom rng = c.shardShuffle().copy();
        RowIterator in = inner.open(c);
        return new Wrapped(in) {
          private final List<Map<String, Object>> buffer = new ArrayList<>();
          private final long[] indices = new long[1000];
          private int used = indices.length;
          private boolean draining;
          private int drainAt;

          private int nextIndex() {
            if (used == indices.length) {
              for (int i = 0; i < indices.length; i++) {
                indices[i] = rng.integers(0, bufferSize); // rng.integers(0, buffer_size, size=1000)
              }
              used = 0;
            }
            return (int) indices[used++];
          }

          @Override
          Map<String, Object> advance() {
            while (!draining && in.hasNext()) {
              Map<String, Object> row = in.next();
              if (buffer.size() == bufferSize) {
                int i = nextIndex();
                Map<String, Object> out = buffer.get(i);
                buffer.set(i, row);
                return out;
              }
              buffer.add(row);
            }
            if (!draining) {
              draining = true;
              long[] order = new long[buffer.size()];
              for (int i = 0; i < order.length; i++) {
                order[i] = i;
              }
              rng.shuffle(order);
              List<Map<String, Object>> shuffled = new ArrayList<>();
              for (long o : order) {
                shuffled.add(buffer.get((int) o));
              }
              buffer.clear();
              buffer.addAll(shuffled);
            }
            return drainAt < buffer.size() ? buffer.get(drainAt++) : null;
          }
        };
      }
    };
    return new IterableDataset(next, features, seed, epoch, rank, worldSize);
  }

  /** The epoch, which reseeds {@link #shuffle} as Hugging Face's {@code set_epoch} does. */
  public IterableDataset setEpoch(int epoch) {
    return new IterableDataset(node, features, shuffleSeed, epoch, rank, worldSize);
  }

  /**
   * The examples rank {@code rank} of {@code worldSize} reads, as {@code split_dataset_by_node}: whole shards
   * (every worldSize-th, after the shard shuffle) when the shard count divides by worldSize, otherwise every
   * rank reads everything and keeps one example in worldSize.
   */
  public IterableDataset splitByNode(int rank, int worldSize) {
    if (worldSize <= 0 || rank < 0 || rank >= worldSize) {
      throw new IllegalArgumentException("rank must be in [0, worldSize); got rank " + rank + " of " + worldSize);
    }
    return new IterableDataset(node, features, shuffleSeed, epoch, rank, worldSize);
  }

  public int numShards() {
    return node.numShards();
  }

  /** The columns, when known without reading (after a map they are not). */
  public Features features() {
    return features;
  }

  // ---------------------------------------------------------------- iterating

  /** numpy generator for this epoch: the seed itself at epoch 0, then Hugging Face's derived seed. */
  private NumpyRandom effectiveGenerator() {
    if (shuffleSeed == null) {
      return null;
    }
    if (epoch == 0) {
      return new NumpyRandom(shuffleSeed);
    }
    // effective_seed = rng.integers(0, 1 << 63) - epoch, wrapped into [0, 2^63).
    long seed = new NumpyRandom(shuffleSeed).bounded(Long.MAX_VALUE) - epoch;
    if (seed < 0) {
      seed = seed + Long.MAX_VALUE + 1;
    }
    return new NumpyRandom(seed);
  }

  /** Opens the files and iterates; close the iterator to release them. */
  public RowIterator iterator() {
    NumpyRandom rng = effectiveGenerator();
    int shards = node.numShards();
    boolean byShard = worldSize > 1 && shards % worldSize == 0;
    Context c = new Context(rng, byShard ? rank : 0, byShard ? worldSize : 1);
    RowIterator all = node.open(c);
    if (worldSize == 1 || byShard) {
      return all;
    }
    return new Wrapped(all) {
      private long index = -1;

      @Override
      Map<String, Object> advance() {
        while (in.hasNext()) {
          Map<String, Object> row = in.next();
          if (++index % worldSize == rank) {
            return row;
          }
        }
        return null;
      }
    };
  }

  /** Every example, read now (for tests and small data). */
  public List<Map<String, Object>> toList() {
    List<Map<String, Object>> out = new ArrayList<>();
    try (RowIterator it = iterator()) {
      it.forEachRemaining(out::add);
    }
    return out;
  }

  // ---------------------------------------------------------------- interleaving

  /**
   * Hugging Face's {@code interleave_datasets} for iterable datasets: round-robin without probabilities,
   * else sources drawn with numpy's {@code default_rng(seed).choice(n, p=probabilities)}; stops per
   * {@code stopping}. {@code probabilities} may be null.
   */
  public static IterableDataset interleave(List<IterableDataset> sources, double[] probabilities, long seed,
      StoppingStrategy stopping) {
    if (sources.isEmpty()) {
      throw new IllegalArgumentException("Nothing to interleave");
    }
    if (probabilities != null && probabilities.length != sources.size()) {
      throw new IllegalArgumentException(probabilities.length + " probabilities for " + sources.size() + " sources");
    }
    Node next = new Node() {
      @Override
      public int numShards() {
        return sources.stream().mapToInt(IterableDataset::numShards).min().orElse(0);
      }

      @Override
      public RowIterator open(Context c) {
        int n = sources.size();
        RowIterator[] its = new RowIterator[n];
        Object[] nexts = new Object[n];
        boolean[] exhausted = new boolean[n];
        for (int i = 0; i < n; i++) {
          its[i] = sources.get(i).iterator();
          nexts[i] = its[i].hasNext() ? its[i].next() : null;
        }
        double[] cdf = null;
        if (probabilities != null) {
          cdf = new double[n];
          double sum = 0;
          for (int i = 0; i < n; i++) {
            sum += probabilities[i];
            cdf[i] = sum;
          }
          for (int i = 0; i < n; i++) {
            cdf[i] /= sum;
          }
        }
        NumpyRandom rng = new NumpyRandom(seed);
        double[] finalCdf = cdf;
        return new RowIterator() {
          private long step;
          private boolean done;
          private Map<String, Object> pending;

          @SuppressWarnings("unchecked")
          @Override
          public boolean hasNext() {
            if (pending != null) {
              return true;
            }
            if (done) {
              return false;
            }
            int i = finalCdf == null ? (int) (step++ % n) : rng.choice(finalCdf);
            if (nexts[i] == null) {
              done = true; // an empty source
              return false;
            }
            pending = (Map<String, Object>) nexts[i];
            nexts[i] = its[i].hasNext() ? its[i].next() : null;
            if (nexts[i] == null) {
              exhausted[i] = true;
              boolean stop = stopping == StoppingStrategy.FIRST_EXHAUSTED;
              if (!stop) {
                stop = true;
                for (boolean e : exhausted) {
                  stop &= e;
                }
              }
              if (stop) {
                done = true;
              } else {
                its[i].close();
                its[i] = sources.get(i).iterator();
                nexts[i] = its[i].hasNext() ? its[i].next() : null;
              }
            }
            return true;
          }

          @Override
          public Map<String, Object> next() {
            if (!hasNext()) {
              throw new NoSuchElementException();
            }
            Map<String, Object> r = pending;
            pending = null;
            return r;
          }

          @Override
          public void close() {
            for (RowIterator it : its) {
              it.close();
            }
          }
        };
      }
    };
    return new IterableDataset(next, sources.get(0).features, null, 0, 0, 1);
  }
}
