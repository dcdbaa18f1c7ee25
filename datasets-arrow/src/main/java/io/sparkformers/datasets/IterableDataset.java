package io.sparkformers.datasets;

import io.sparkformers.datasets.internal.CsvReader;
import io.sparkformers.datasets.internal.InputFiles;
import io.sparkformers.datasets.internal.InputFiles.InputFile;
import io.sparkformers.datasets.internal.JsonReader;
import io.sparkformers.datasets.internal.NumpyRandom;
import io.sparkformers.datasets.internal.ParquetRows;
import io.sparkformers.datasets.internal.PushToPull;
import io.sparkformers.datasets.internal.RowIterator;
import io.sparkformers.datasets.internal.Utf8LineReader;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * A dataset read as it is iterated, like Hugging Face's {@code IterableDataset} (streaming): files are read
 * one after the other (each file is a shard) without a cache, and transforms run lazily. Immutable: every
 * method returns a new {@code IterableDataset}; {@link #iterator()} opens the files and must be closed.
 *
 * <p>The random parts follow Hugging Face's code with numpy's generator, so the same seed gives the same
 * order: {@link #shuffle(long, int)} shuffles the shard order and then draws from a buffer of examples;
 * {@link #setEpoch} reseeds it per epoch; {@link #interleave} draws sources with given probabilities.
 *
 * <h2>Stream state</h2>
 * As Hugging Face's {@code state_dict()} / {@code load_state_dict()}: {@link StreamIterator#stateDict()} is
 * where an iteration is, after the examples {@code next()} returned (a look-ahead by {@code hasNext()} does not
 * count), as a map of JSON values; {@link #loadStateDict} gives a dataset whose iteration continues right
 * after them. The map holds {@code shards} (the shard names, before any shuffle or split), {@code
 * shuffle_seed}, {@code epoch}, {@code rank}, {@code world_size} and {@code examples_iterable}: one entry per
 * step of the pipeline, nested as the steps are, each with its {@code kind}: {@code shards} ({@code
 * shard_idx}: the shard in this epoch's order of this rank's shards, {@code shard_example_idx}: examples of it
 * already taken, and for text and JSON lines files {@code shard_byte_offset} and {@code shard_line}: where the
 * line after them starts), {@code shuffle}, {@code map}, {@code filter}, {@code take} ({@code num_taken}), {@code skip}
 * ({@code skipped}) and {@code split_by_example} (the node split that keeps one example in {@code world_size}).
 *
 * <p>Resuming opens the saved shard and moves to the saved byte offset (text and JSON lines; a seek on local and
 * Hadoop files, a decompression for {@code .gz}), skips the row groups before it undecoded (Parquet), or reads
 * past the examples already taken in it (CSV, JSON arrays, Arrow; the rest of a Parquet row group); the shards
 * before it are not opened. Unlike Hugging Face, which drops the shuffle buffer's content on resume and refills it from new
 * examples (so some examples are lost), the state keeps the buffer exactly without storing its rows: it
 * records, for each slot, which example of the stream before the buffer fills it, the generator's state and
 * the step reached in its batch of 1000 random indices, and the state of the stream before the buffer at the
 * oldest buffered example. Resuming replays the stream from that oldest example up to the saved position,
 * putting the buffered examples back into their slots, and then draws exactly what the uninterrupted iteration
 * draws: no example is lost or repeated. The replay reads the examples since the oldest one still buffered
 * (with a buffer of B, about B·ln B of them once it is full; all examples when the stream is shorter than the
 * buffer), not the stream before it, and the rows replayed skip the transforms after the buffer.
 * {@link StreamIterator#rowsReadToResume()} counts them.
 *
 * <p>A state is bound to the dataset it came from: different shards, another shuffle seed or buffer size, other
 * transforms, or another rank or world size are refused with an error naming what differs. Hugging Face
 * stores no rank or world size in its state and applies the saved shard index to the new split's shards,
 * so a node-split stream cannot be resumed on another world size there either: each rank's state describes
 * only its own shards (or its own examples of every 1 in world_size), and the examples the other ranks took
 * are not in it. Interleaved datasets record no state.
 */
public final class IterableDataset {
  /** What an iteration is asked to do by the nodes above a source. */
  private record Context(NumpyRandom shardShuffle, int rank, int worldSize, Counters counters) {}

  /** Rows read from the shards by one iteration. */
  private static final class Counters {
    long read;
    long readToResume;
  }

  /** A step of the lazy pipeline. */
  private interface Node {
    /** Opens the step, at {@code saved} (its entry in a stream state) or at the start when null. */
    Pipe open(Context context, Saved saved);

    int numShards();

    /** The names of the shards the pipeline reads, in their unshuffled order; null when not recorded. */
    List<String> shardNames();
  }

  /**
   * An opened step: {@link #peek} looks at the next row without taking it (what {@link #state} says does not
   * change), {@link #poll} takes it; both give null at the end.
   */
  private abstract static class Pipe implements AutoCloseable {
    abstract Map<String, Object> peek();

    abstract Map<String, Object> poll();

    /** Where the step is, as JSON values, after the rows polled so far. */
    abstract Map<String, Object> state();

    @Override
    public abstract void close();
  }

  /**
   * One shard, opened after its first {@code skip} examples: at byte {@code offset} (after {@code lines} lines)
   * when the shard is read by lines and the offset is known (not -1), else by reading past them.
   */
  private interface Shard {
    String name();

    RowIterator open(long skip, long offset, long lines, Counters counters);
  }

  /** The rows of a shard read by lines, and where the last row returned ends. */
  private interface ShardRows extends RowIterator {
    /** {byte offset of the next line, lines read} after the last row returned. */
    long[] position();
  }

  private final Node node;
  private final Features features;
  private final Long shuffleSeed;
  private final int epoch;
  private final int rank;
  private final int worldSize;
  /** The {@code examples_iterable} entry of a loaded state, or null to start at the beginning. */
  private final Map<String, Object> start;

  private IterableDataset(Node node, Features features, Long shuffleSeed, int epoch, int rank, int worldSize,
      Map<String, Object> start) {
    this.node = node;
    this.features = features;
    this.shuffleSeed = shuffleSeed;
    this.epoch = epoch;
    this.rank = rank;
    this.worldSize = worldSize;
    this.start = start;
  }

  private IterableDataset with(Node next, Features f) {
    return new IterableDataset(next, f, shuffleSeed, epoch, rank, worldSize, start);
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
    List<Shard> shards = new ArrayList<>();
    for (InputFile f : files) {
      shards.add(new Shard() {
        private Boolean byLines; // text and JSON lines: read here, with the offset of each line

        @Override
        public String name() {
          return f.uri();
        }

        @Override
        public RowIterator open(long skip, long offset, long lines, Counters counters) {
          if (byLines == null) {
            byLines = format == DataFormat.TEXT
                || (format == DataFormat.JSON && !JsonReader.isArray(() -> inputs.open(f), f.uri()));
          }
          if (byLines && offset >= 0) {
            return lineRows(format, inputs, f, features, offset, lines);
          }
          // Parquet skips the row groups before the saved example undecoded; other readers parse from the
          // start of a file. The examples before the saved one are then read past.
          java.util.concurrent.atomic.AtomicLong first = new java.util.concurrent.atomic.AtomicLong();
          RowIterator it = byLines ? lineRows(format, inputs, f, features, 0, 0)
              : format == DataFormat.PARQUET && skip > 0
                  ? new PushToPull(sink -> ParquetRows.read(inputs, f, features, skip, first::set, sink), f.uri())
                  : new PushToPull(sink -> DatasetLoader.readFile(format, options, inputs, f, features, sink),
                      f.uri());
          if (format == DataFormat.PARQUET && skip > 0) {
            it.hasNext(); // the reader names its first row before it gives it
          }
          for (long i = first.get(); i < skip; i++) {
            if (!it.hasNext()) {
              it.close();
              throw new IllegalArgumentException("stream state: " + f.uri() + " has " + i + " examples, the state"
                  + " resumes after example " + skip + " of it: the file changed since the state was saved");
            }
            it.next();
            counters.read++;
            counters.readToResume++;
          }
          return it;
        }
      });
    }
    return new IterableDataset(new Source(shards), features, null, 0, 0, 1, null);
  }

  /**
   * A text or JSON lines file's rows from byte {@code offset} (after {@code lines} lines): the stream is moved
   * there (a seek on local and Hadoop files) and each row comes with the offset of the line after it.
   */
  private static ShardRows lineRows(DataFormat format, InputFiles inputs, InputFile f, Features features,
      long offset, long lines) {
    // Positions queue up in the reading thread's order, one per row, at most a queue's length ahead.
    java.util.Queue<long[]> positions = new java.util.concurrent.ConcurrentLinkedQueue<>();
    PushToPull rows = new PushToPull(sink -> {
      java.io.InputStream in = inputs.open(f);
      try (Utf8LineReader reader = new Utf8LineReader(in, f.uri())) {
        skipBytes(in, offset, f.uri());
        reader.startAt(offset, lines);
        if (format == DataFormat.TEXT) {
          String line;
          while ((line = reader.readLine()) != null) {
            positions.add(new long[] {reader.nextLineOffset(), reader.lineNumber()});
            sink.accept(Map.of("text", line));
          }
        } else {
          JsonReader.readLines(reader, f.uri(), features, (row, r) -> {
            positions.add(new long[] {r.nextLineOffset(), r.lineNumber()});
            sink.accept(row);
          });
        }
      }
    }, f.uri());
    return new ShardRows() {
      private long[] last = {offset, lines};

      @Override
      public boolean hasNext() {
        return rows.hasNext();
      }

      @Override
      public Map<String, Object> next() {
        Map<String, Object> r = rows.next();
        last = positions.poll();
        return r;
      }

      @Override
      public void close() {
        rows.close();
      }

      @Override
      public long[] position() {
        return last;
      }
    };
  }

  private static void skipBytes(java.io.InputStream in, long n, String source) {
    try {
      long left = n;
      while (left > 0) {
        long s = in.skip(left);
        if (s <= 0) {
          if (in.read() < 0) {
            throw new IllegalArgumentException("stream state: " + source + " has " + (n - left) + " bytes, the state"
                + " resumes at byte " + n + " of it: the file changed since the state was saved");
          }
          s = 1;
        }
        left -= s;
      }
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("Cannot read " + source, e);
    }
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
    List<Shard> shards = new ArrayList<>();
    long n = dataset.numRows();
    for (int i = 0; i < numShards; i++) {
      long div = n / numShards;
      long mod = n % numShards;
      long first = div * i + Math.min(i, mod);
      long end = first + div + (i < mod ? 1 : 0);
      String name = "rows " + first + ".." + end + " of " + n;
      shards.add(new Shard() {
        @Override
        public String name() {
          return name;
        }

        @Override
        public RowIterator open(long skip, long offset, long lines, Counters counters) {
          if (first + skip > end) {
            throw new IllegalArgumentException("stream state: shard '" + name + "' has " + (end - first)
                + " examples, the state resumes after example " + skip + " of it");
          }
          return RowIterator.of(new Iterator<>() {
            private long next = first + skip; // rows are addressed directly: nothing is read to resume

            @Override
            public boolean hasNext() {
              return next < end;
            }

            @Override
            public Map<String, Object> next() {
              return dataset.row(next++);
            }
          });
        }
      });
    }
    return new IterableDataset(new Source(shards), dataset.features(), null, 0, 0, 1, null);
  }

  /** Shards read one after the other, in shuffled order when asked. */
  private static final class Source implements Node {
    private final List<Shard> shards;

    Source(List<Shard> shards) {
      this.shards = shards;
    }

    @Override
    public int numShards() {
      return shards.size();
    }

    @Override
    public List<String> shardNames() {
      return shards.stream().map(Shard::name).toList();
    }

    @Override
    public Pipe open(Context context, Saved saved) {
      long[] order = new long[shards.size()];
      for (int i = 0; i < order.length; i++) {
        order[i] = i;
      }
      if (context.shardShuffle() != null) {
        context.shardShuffle().copy().shuffle(order);
      }
      List<Shard> mine = new ArrayList<>();
      for (int i = 0; i < order.length; i++) {
        if (i % context.worldSize() == context.rank()) {
          mine.add(shards.get((int) order[i]));
        }
      }
      SourcePipe p = new SourcePipe(mine, context.counters());
      if (saved != null) {
        saved.kind("shards");
        p.shard = (int) saved.whole("shard_idx", 0, mine.size());
        p.example = saved.whole("shard_example_idx", 0, Long.MAX_VALUE);
        Long offset = saved.optionalWhole("shard_byte_offset");
        Long lines = saved.optionalWhole("shard_line");
        p.offset = offset == null || lines == null ? -1 : offset;
        p.lines = offset == null || lines == null ? -1 : lines;
      }
      return p;
    }
  }

  private static final class SourcePipe extends Pipe {
    private final List<Shard> mine;
    private final Counters counters;
    private int shard;
    private long example;
    private long offset; // byte offset and lines after the examples taken, for a shard read by lines; else -1
    private long lines;
    private RowIterator current;
    private Map<String, Object> head;
    private long[] headPosition;
    private RuntimeException failed; // a read error met while placing the state, thrown at the next read

    SourcePipe(List<Shard> mine, Counters counters) {
      this.mine = mine;
      this.counters = counters;
    }

    private void nextShard() {
      current.close();
      current = null;
      shard++;
      example = 0;
      offset = 0;
      lines = 0;
    }

    @Override
    Map<String, Object> peek() {
      if (failed != null) {
        throw failed;
      }
      while (head == null && shard < mine.size()) {
        if (current == null) {
          current = mine.get(shard).open(example, example == 0 ? 0 : offset, example == 0 ? 0 : lines, counters);
        }
        if (current.hasNext()) {
          head = current.next();
          headPosition = current instanceof ShardRows lines ? lines.position() : null;
          counters.read++;
        } else {
          nextShard();
        }
      }
      return head;
    }

    @Override
    Map<String, Object> poll() {
      Map<String, Object> r = peek();
      if (r != null) {
        head = null;
        example++;
        offset = headPosition == null ? -1 : headPosition[0];
        lines = headPosition == null ? -1 : headPosition[1];
      }
      return r;
    }

    @Override
    Map<String, Object> state() {
      // At the end of a shard the state names the next one, so that resuming opens no finished shard.
      if (head == null && current != null && failed == null) {
        try {
          if (!current.hasNext()) {
            nextShard();
          }
        } catch (RuntimeException e) {
          failed = e;
        }
      }
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("kind", "shards");
      m.put("shard_idx", (long) shard);
      m.put("shard_example_idx", example);
      m.put("shard_byte_offset", offset < 0 ? null : offset);
      m.put("shard_line", offset < 0 ? null : lines);
      return m;
    }

    @Override
    public void close() {
      if (current != null) {
        current.close();
        current = null;
      }
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

    @Override
    public List<String> shardNames() {
      return parent.shardNames();
    }

    /** The parent opened at the {@code ex_iterable} entry of {@code saved}, after checking its kind. */
    Pipe openParent(Context c, Saved saved, String kind) {
      if (saved == null) {
        return parent.open(c, null);
      }
      saved.kind(kind);
      return parent.open(c, saved.child("ex_iterable"));
    }
  }

  /** A step over one parent pipe, closed with it. */
  private abstract static class Wrapped extends Pipe {
    final Pipe in;

    Wrapped(Pipe in) {
      this.in = in;
    }

    /** This step's own entries of the state; the parent's goes under {@code ex_iterable}. */
    abstract void describe(Map<String, Object> m);

    @Override
    Map<String, Object> state() {
      Map<String, Object> m = new LinkedHashMap<>();
      describe(m);
      m.put("ex_iterable", in.state());
      return m;
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
      public Pipe open(Context c, Saved saved) {
        Pipe in = openParent(c, saved, "map");
        long first = saved == null ? 0 : saved.whole("example_idx", 0, Long.MAX_VALUE);
        return new Wrapped(in) {
          private long index = first;
          private Map<String, Object> mapped; // the peeked row, mapped once

          @Override
          Map<String, Object> peek() {
            if (mapped == null) {
              Map<String, Object> source = in.peek();
              if (source == null) {
                return null;
              }
              Map<String, Object> row = new LinkedHashMap<>(source);
              Map<String, ?> update;
              try {
                update = function.apply(new LinkedHashMap<>(row));
              } catch (RuntimeException e) {
                throw new TransformException("map function failed on example " + index + ": " + e, index, e);
              }
              if (update != null) {
                row.putAll(update);
              }
              mapped = row;
            }
            return mapped;
          }

          @Override
          Map<String, Object> poll() {
            Map<String, Object> r = peek();
            if (r != null) {
              in.poll();
              mapped = null;
              index++;
            }
            return r;
          }

          @Override
          void describe(Map<String, Object> m) {
            m.put("kind", "map");
            m.put("example_idx", index);
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
      public Pipe open(Context c, Saved saved) {
        Pipe in = openParent(c, saved, "filter");
        long first = saved == null ? 0 : saved.whole("example_idx", 0, Long.MAX_VALUE);
        return new Wrapped(in) {
          private long index = first;
          private boolean kept; // the parent's next row passed the predicate

          @Override
          Map<String, Object> peek() {
            while (true) {
              Map<String, Object> row = in.peek();
              if (row == null || kept) {
                return row;
              }
              try {
                kept = predicate.test(row);
              } catch (RuntimeException e) {
                throw new TransformException("filter failed on example " + index + ": " + e, index, e);
              }
              if (!kept) {
                // Rows dropped are taken at once: no state ever needs to give them back.
                in.poll();
                index++;
              }
            }
          }

          @Override
          Map<String, Object> poll() {
            Map<String, Object> r = peek();
            if (r != null) {
              in.poll();
              kept = false;
              index++;
            }
            return r;
          }

          @Override
          void describe(Map<String, Object> m) {
            m.put("kind", "filter");
            m.put("example_idx", index);
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
      public Pipe open(Context c, Saved saved) {
        Pipe in = openParent(c, saved, "take");
        long first = saved == null ? 0 : saved.whole("num_taken", 0, n);
        return new Wrapped(in) {
          private long taken = first;

          @Override
          Map<String, Object> peek() {
            return taken >= n ? null : in.peek();
          }

          @Override
          Map<String, Object> poll() {
            if (taken >= n) {
              return null;
            }
            Map<String, Object> r = in.poll();
            if (r != null) {
              taken++;
            }
            return r;
          }

          @Override
          void describe(Map<String, Object> m) {
            m.put("kind", "take");
            m.put("num_taken", taken);
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
      public Pipe open(Context c, Saved saved) {
        Pipe in = openParent(c, saved, "skip");
        boolean done = saved != null && saved.bool("skipped");
        return new Wrapped(in) {
          private boolean skipped = done;

          private void skipFirst() {
            if (!skipped) {
              skipped = true;
              for (long i = 0; i < n && in.poll() != null; i++) {
                // dropped
              }
            }
          }

          @Override
          Map<String, Object> peek() {
            skipFirst();
            return in.peek();
          }

          @Override
          Map<String, Object> poll() {
            skipFirst();
            return in.poll();
          }

          @Override
          void describe(Map<String, Object> m) {
            m.put("kind", "skip");
            m.put("skipped", skipped);
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
    Node next = new Step(inner) {
      @Override
      public Pipe open(Context c, Saved saved) {
        if (saved == null) {
          return new BufferPipe(inner.open(c, null), bufferSize, c.shardShuffle().copy(), c.counters());
        }
        saved.kind("shuffle");
        long size = saved.whole("buffer_size", 1, Integer.MAX_VALUE);
        if (size != bufferSize) {
          throw new IllegalArgumentException("stream state key '" + saved.path + "buffer_size': the state was saved"
              + " with a shuffle buffer of " + size + ", this dataset shuffles with a buffer of " + bufferSize);
        }
        return BufferPipe.restore(inner, c, saved, bufferSize);
      }
    };
    return new IterableDataset(next, features, seed, epoch, rank, worldSize, start);
  }

  /** The shuffle buffer (see the class comment for its state). */
  private static final class BufferPipe extends Pipe {
    private static final int RANDOM_BATCH = 1000; // rng.integers(0, buffer_size, size=1000) in Hugging Face
    private final Pipe in;
    private final int size;
    private final Counters counters;
    private NumpyRandom rng;
    private final long[] indices = new long[RANDOM_BATCH];
    private int used = RANDOM_BATCH;
    private String rngAtBatch; // the generator before it drew `indices`
    private final List<Map<String, Object>> buffer = new ArrayList<>();
    private final List<Long> rowOf = new ArrayList<>(); // which row of the parent each slot holds
    private final List<Map<String, Object>> stateBefore = new ArrayList<>(); // the parent's state before it
    private long rowsIn; // rows taken from the parent
    private boolean draining;
    private int drainAt;

    BufferPipe(Pipe in, int size, NumpyRandom rng, Counters counters) {
      this.in = in;
      this.size = size;
      this.rng = rng;
      this.counters = counters;
    }

    static BufferPipe restore(Node inner, Context c, Saved saved, int size) {
      long rowsIn = saved.whole("rows_in", 0, Long.MAX_VALUE);
      List<?> rows = saved.list("buffer_rows");
      boolean draining = saved.bool("draining");
      String rngState = saved.text("rng_state");
      long offset = saved.whole("rng_index_offset", 0, RANDOM_BATCH);
      NumpyRandom rng;
      try {
        rng = NumpyRandom.fromState(rngState);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("stream state key '" + saved.path + "rng_state': " + e.getMessage(), e);
      }
      Map<Long, Integer> slotOf = new HashMap<>();
      long oldest = Long.MAX_VALUE;
      for (int i = 0; i < rows.size(); i++) {
        Object v = rows.get(i);
        Long row = Saved.asWhole(v);
        if (row == null || row < 0 || row >= rowsIn || slotOf.put(row, i) != null) {
          throw new IllegalArgumentException("stream state key '" + saved.path + "buffer_rows[" + i + "]': expected"
              + " a row number in [0, " + rowsIn + ") not listed before, got " + v);
        }
        oldest = Math.min(oldest, row);
      }
      if (!draining && rows.size() > size) {
        throw new IllegalArgumentException("stream state key '" + saved.path + "buffer_rows': " + rows.size()
            + " rows for a buffer of " + size);
      }
      Pipe in;
      long at;
      if (rows.isEmpty()) {
        in = inner.open(c, saved.child("ex_iterable"));
        at = rowsIn;
      } else {
        long from = saved.whole("replay_from_row", 0, Long.MAX_VALUE);
        if (from != oldest) {
          throw new IllegalArgumentException("stream state key '" + saved.path + "replay_from_row': expected the"
              + " oldest row of buffer_rows, " + oldest + ", got " + from);
        }
        in = inner.open(c, saved.child("replay_from"));
        at = from;
      }
      BufferPipe p = new BufferPipe(in, size, rng, c.counters());
      for (int i = 0; i < rows.size(); i++) {
        p.buffer.add(null);
        p.rowOf.add(null);
        p.stateBefore.add(null);
      }
      // Replays the parent from the oldest buffered row to where it was, putting the buffered rows back.
      for (; at < rowsIn; at++) {
        Map<String, Object> before = in.state();
        Map<String, Object> row = in.poll();
        if (row == null) {
          in.close();
          throw new IllegalArgumentException("stream state key '" + saved.path + "rows_in': the stream before the"
              + " shuffle buffer ends at row " + at + ", the state was saved after row " + rowsIn
              + ": the data changed since the state was saved");
        }
        c.counters().readToResume++;
        Integer slot = slotOf.get(at);
        if (slot != null) {
          p.buffer.set(slot, row);
          p.rowOf.set(slot, at);
          p.stateBefore.set(slot, before);
        }
      }
      p.rowsIn = rowsIn;
      p.draining = draining;
      if (offset < RANDOM_BATCH) {
        p.rngAtBatch = rngState;
        p.drawIndices();
        p.used = (int) offset;
      }
      return p;
    }

    private void drawIndices() {
      for (int i = 0; i < indices.length; i++) {
        indices[i] = rng.integers(0, size);
      }
      used = 0;
    }

    private int index(boolean take) {
      if (used == indices.length) {
        rngAtBatch = rng.state();
        drawIndices();
      }
      int i = (int) indices[used];
      if (take) {
        used++;
      }
      return i;
    }

    private void fill() {
      while (buffer.size() < size && in.peek() != null) {
        stateBefore.add(in.state());
        rowOf.add(rowsIn++);
        buffer.add(in.poll());
      }
    }

    private void drain() {
      draining = true;
      long[] order = new long[buffer.size()];
      for (int i = 0; i < order.length; i++) {
        order[i] = i;
      }
      rng.shuffle(order);
      List<Map<String, Object>> rows = new ArrayList<>();
      List<Long> numbers = new ArrayList<>();
      List<Map<String, Object>> states = new ArrayList<>();
      for (long o : order) {
        rows.add(buffer.get((int) o));
        numbers.add(rowOf.get((int) o));
        states.add(stateBefore.get((int) o));
      }
      buffer.clear();
      buffer.addAll(rows);
      rowOf.clear();
      rowOf.addAll(numbers);
      stateBefore.clear();
      stateBefore.addAll(states);
    }

    @Override
    Map<String, Object> peek() {
      if (!draining) {
        fill();
        if (buffer.size() == size && in.peek() != null) {
          return buffer.get(index(false));
        }
        drain();
      }
      return drainAt < buffer.size() ? buffer.get(drainAt) : null;
    }

    @Override
    Map<String, Object> poll() {
      if (!draining) {
        fill();
        if (buffer.size() == size && in.peek() != null) {
          int i = index(true);
          Map<String, Object> out = buffer.get(i);
          stateBefore.set(i, in.state());
          rowOf.set(i, rowsIn++);
          buffer.set(i, in.poll());
          return out;
        }
        drain();
      }
      if (drainAt >= buffer.size()) {
        return null;
      }
      Map<String, Object> out = buffer.get(drainAt);
      buffer.set(drainAt, null); // emitted rows are not kept
      drainAt++;
      return out;
    }

    @Override
    Map<String, Object> state() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("kind", "shuffle");
      m.put("buffer_size", (long) size);
      m.put("rows_in", rowsIn);
      m.put("rng_state", used == indices.length ? rng.state() : rngAtBatch);
      m.put("rng_index_offset", (long) used);
      m.put("draining", draining);
      int from = draining ? drainAt : 0;
      List<Long> rows = new ArrayList<>(rowOf.subList(from, rowOf.size()));
      m.put("buffer_rows", rows);
      int oldest = -1;
      for (int i = from; i < rowOf.size(); i++) {
        if (oldest < 0 || rowOf.get(i) < rowOf.get(oldest)) {
          oldest = i;
        }
      }
      m.put("replay_from_row", oldest < 0 ? null : rowOf.get(oldest));
      m.put("replay_from", oldest < 0 ? null : stateBefore.get(oldest));
      m.put("ex_iterable", in.state());
      return m;
    }

    @Override
    public void close() {
      in.close();
    }
  }

  /**
   * The epoch, which reseeds {@link #shuffle} as Hugging Face's {@code set_epoch} does. A state loaded for
   * another epoch is dropped: a new epoch starts at its beginning.
   */
  public IterableDataset setEpoch(int epoch) {
    return new IterableDataset(node, features, shuffleSeed, epoch, rank, worldSize,
        epoch == this.epoch ? start : null);
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
    return new IterableDataset(node, features, shuffleSeed, epoch, rank, worldSize, start);
  }

  public int numShards() {
    return node.numShards();
  }

  /** The columns, when known without reading (after a map they are not). */
  public Features features() {
    return features;
  }

  /** The epoch set by {@link #setEpoch} or by a loaded state. */
  public int epoch() {
    return epoch;
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

  /**
   * Opens the files and iterates, from the start or from the state {@link #loadStateDict} loaded; close the
   * iterator to release them.
   */
  public StreamIterator iterator() {
    NumpyRandom rng = effectiveGenerator();
    int shards = node.numShards();
    boolean byShard = worldSize > 1 && shards % worldSize == 0;
    Counters counters = new Counters();
    Context c = new Context(rng, byShard ? rank : 0, byShard ? worldSize : 1, counters);
    Saved saved = start == null ? null : new Saved(start, "examples_iterable.");
    Pipe pipe;
    if (worldSize == 1 || byShard) {
      pipe = node.open(c, saved);
    } else {
      long first = 0;
      Pipe in;
      if (saved == null) {
        in = node.open(c, null);
      } else {
        saved.kind("split_by_example");
        first = saved.whole("example_idx", 0, Long.MAX_VALUE);
        in = node.open(c, saved.child("ex_iterable"));
      }
      pipe = new SplitPipe(in, rank, worldSize, first);
    }
    return new StreamIterator(pipe, counters, header());
  }

  /** split_dataset_by_node when the shards do not divide: rank r keeps the examples r, r + world, ... */
  private static final class SplitPipe extends Wrapped {
    private final int rank;
    private final int worldSize;
    private long index;

    SplitPipe(Pipe in, int rank, int worldSize, long index) {
      super(in);
      this.rank = rank;
      this.worldSize = worldSize;
      this.index = index;
    }

    @Override
    Map<String, Object> peek() {
      // The other ranks' examples are taken at once: no state needs to give them back.
      while (index % worldSize != rank) {
        if (in.poll() == null) {
          return null;
        }
        index++;
      }
      return in.peek();
    }

    @Override
    Map<String, Object> poll() {
      Map<String, Object> r = peek();
      if (r != null) {
        in.poll();
        index++;
      }
      return r;
    }

    @Override
    void describe(Map<String, Object> m) {
      m.put("kind", "split_by_example");
      m.put("example_idx", index);
    }
  }

  /** What identifies the dataset in its states. */
  private Map<String, Object> header() {
    Map<String, Object> m = new LinkedHashMap<>();
    List<String> names = node.shardNames();
    m.put("shards", names == null ? null : new ArrayList<>(names));
    m.put("shuffle_seed", shuffleSeed);
    m.put("epoch", (long) epoch);
    m.put("rank", (long) rank);
    m.put("world_size", (long) worldSize);
    return m;
  }

  /**
   * An iteration over an {@link IterableDataset}: the rows, where it is ({@link #stateDict()}) and how much it
   * read. Holds open files until closed.
   */
  public static final class StreamIterator implements Iterator<Map<String, Object>>, AutoCloseable {
    private final Pipe pipe;
    private final Counters counters;
    private final Map<String, Object> header;

    private StreamIterator(Pipe pipe, Counters counters, Map<String, Object> header) {
      this.pipe = pipe;
      this.counters = counters;
      this.header = header;
    }

    @Override
    public boolean hasNext() {
      return pipe.peek() != null;
    }

    @Override
    public Map<String, Object> next() {
      Map<String, Object> r = pipe.poll();
      if (r == null) {
        throw new NoSuchElementException();
      }
      return r;
    }

    /**
     * Where the iteration is, after the rows {@link #next()} returned: JSON values only (maps, lists, strings,
     * numbers, booleans, nulls), for {@link IterableDataset#loadStateDict}. See the class comment of
     * {@link IterableDataset} for the keys.
     */
    @SuppressWarnings("unchecked")
    public Map<String, Object> stateDict() {
      if (header.get("shards") == null) {
        throw new UnsupportedOperationException("an interleaved stream records no state (interleave_datasets)");
      }
      Map<String, Object> m = new LinkedHashMap<>(header);
      m.put("examples_iterable", pipe.state());
      return (Map<String, Object>) copyJson(m); // the caller's to change: no map of the pipeline is shared
    }

    /** Rows read from the shards so far, those read to reach a loaded state included. */
    public long rowsRead() {
      return counters.read;
    }

    /**
     * Rows read from the shards only to reach the loaded state: those before the saved example in the saved
     * shard, and those replayed to rebuild the shuffle buffer. 0 for an iteration from the start.
     */
    public long rowsReadToResume() {
      return counters.readToResume;
    }

    @Override
    public void close() {
      pipe.close();
    }
  }

  /**
   * The state this dataset's iteration starts from: the one {@link #loadStateDict} loaded, or one with a null
   * {@code examples_iterable} (the beginning). A running iteration's state is {@link StreamIterator#stateDict()}.
   */
  public Map<String, Object> stateDict() {
    Map<String, Object> m = header();
    m.put("examples_iterable", start == null ? null : copyJson(start));
    return m;
  }

  /**
   * This dataset, iterating from {@code state} (a {@link StreamIterator#stateDict()} of the same dataset, also
   * after a trip through JSON): its epoch becomes the state's. A state of other shards, shuffle seed, rank or
   * world size is refused naming what differs; one of other transforms or buffer size when the iteration opens.
   */
  @SuppressWarnings("unchecked")
  public IterableDataset loadStateDict(Map<String, ?> state) {
    if (state == null) {
      throw new IllegalArgumentException("stream state: null");
    }
    Saved s = new Saved((Map<String, Object>) copyJson(state), "");
    List<String> names = node.shardNames();
    if (names == null) {
      throw new IllegalArgumentException("stream state: an interleaved stream records no state"
          + " (interleave_datasets)");
    }
    List<?> saved = s.list("shards");
    if (!saved.equals(names)) {
      String what = "the state lists " + saved.size() + " shards, this dataset reads " + names.size();
      for (int i = 0; i < Math.min(saved.size(), names.size()); i++) {
        if (!String.valueOf(saved.get(i)).equals(names.get(i))) {
          what = "shard " + i + " is '" + saved.get(i) + "' in the state, '" + names.get(i) + "' here";
          break;
        }
      }
      throw new IllegalArgumentException("stream state key 'shards': the state was saved over other files: " + what);
    }
    Object seed = s.get("shuffle_seed");
    Long savedSeed = seed == null ? null : s.whole("shuffle_seed", Long.MIN_VALUE, Long.MAX_VALUE);
    if (!java.util.Objects.equals(savedSeed, shuffleSeed)) {
      throw new IllegalArgumentException("stream state key 'shuffle_seed': the state was saved with "
          + (savedSeed == null ? "no shuffle" : "seed " + savedSeed) + ", this dataset "
          + (shuffleSeed == null ? "is not shuffled" : "shuffles with seed " + shuffleSeed));
    }
    long savedWorld = s.whole("world_size", 1, Integer.MAX_VALUE);
    long savedRank = s.whole("rank", 0, savedWorld - 1);
    if (savedWorld != worldSize || savedRank != rank) {
      throw new IllegalArgumentException("stream state keys 'rank', 'world_size': the state was saved by rank "
          + savedRank + " of " + savedWorld + ", this dataset is split for rank " + rank + " of " + worldSize
          + ": a stream split by node resumes on the same number of ranks only (a rank's state holds its own"
          + " shards' positions, not the other ranks')");
    }
    int savedEpoch = (int) s.whole("epoch", 0, Integer.MAX_VALUE);
    Saved examples = s.child("examples_iterable");
    return new IterableDataset(node, features, shuffleSeed, savedEpoch, rank, worldSize,
        examples == null ? null : examples.map);
  }

  /** Every example, read now (for tests and small data). */
  public List<Map<String, Object>> toList() {
    List<Map<String, Object>> out = new ArrayList<>();
    try (StreamIterator it = iterator()) {
      it.forEachRemaining(out::add);
    }
    return out;
  }

  /** A deep copy of JSON values, whole numbers as longs (a trip through JSON may give ints or big integers). */
  private static Object copyJson(Object v) {
    if (v instanceof Map<?, ?> m) {
      Map<String, Object> out = new LinkedHashMap<>();
      m.forEach((k, x) -> out.put(String.valueOf(k), copyJson(x)));
      return out;
    }
    if (v instanceof List<?> l) {
      List<Object> out = new ArrayList<>();
      l.forEach(x -> out.add(copyJson(x)));
      return out;
    }
    Long whole = Saved.asWhole(v);
    return whole != null ? whole : v;
  }

  /** An entry of a loaded state, read with errors that name its key. */
  private static final class Saved {
    final Map<String, Object> map;
    final String path;

    Saved(Map<String, Object> map, String path) {
      this.map = map;
      this.path = path;
    }

    private IllegalArgumentException bad(String key, String expected, Object got) {
      return new IllegalArgumentException("stream state key '" + path + key + "': expected " + expected + ", got "
          + (got instanceof String ? "'" + got + "'" : got));
    }

    Object get(String key) {
      if (!map.containsKey(key)) {
        throw new IllegalArgumentException("stream state key '" + path + key + "' is missing; the entry has "
            + map.keySet());
      }
      return map.get(key);
    }

    static Long asWhole(Object v) {
      if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte) {
        return ((Number) v).longValue();
      }
      if (v instanceof BigInteger b && b.bitLength() < 64) {
        return b.longValue();
      }
      return null;
    }

    /** A whole number ≥ 0, or null when missing or null. */
    Long optionalWhole(String key) {
      return map.get(key) == null ? null : whole(key, 0, Long.MAX_VALUE);
    }

    long whole(String key, long min, long max) {
      Object v = get(key);
      Long n = asWhole(v);
      if (n == null || n < min || n > max) {
        throw bad(key, "a whole number in [" + min + ", " + max + "]", v);
      }
      return n;
    }

    boolean bool(String key) {
      Object v = get(key);
      if (v instanceof Boolean b) {
        return b;
      }
      throw bad(key, "true or false", v);
    }

    String text(String key) {
      Object v = get(key);
      if (v instanceof String t) {
        return t;
      }
      throw bad(key, "a string", v);
    }

    List<?> list(String key) {
      Object v = get(key);
      if (v instanceof List<?> l) {
        return l;
      }
      throw bad(key, "a list", v);
    }

    @SuppressWarnings("unchecked")
    Saved child(String key) {
      Object v = get(key);
      if (v == null) {
        return null;
      }
      if (v instanceof Map<?, ?> m) {
        return new Saved((Map<String, Object>) m, path + key + ".");
      }
      throw bad(key, "an object", v);
    }

    void kind(String expected) {
      String k = text("kind");
      if (!k.equals(expected)) {
        throw new IllegalArgumentException("stream state key '" + path + "kind': the state has '" + k
            + "' where this dataset has '" + expected + "': it was saved from a dataset built with other"
            + " transforms");
      }
    }
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
      public List<String> shardNames() {
        return null; // no state is recorded for interleaved sources
      }

      @Override
      public Pipe open(Context c, Saved saved) {
        if (saved != null) {
          throw new IllegalArgumentException("stream state: an interleaved stream records no state"
              + " (interleave_datasets)");
        }
        int n = sources.size();
        StreamIterator[] its = new StreamIterator[n];
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
        return new Pipe() {
          private long step;
          private boolean done;
          private Map<String, Object> pending;

          @SuppressWarnings("unchecked")
          @Override
          Map<String, Object> peek() {
            if (pending != null) {
              return pending;
            }
            if (done) {
              return null;
            }
            int i = finalCdf == null ? (int) (step++ % n) : rng.choice(finalCdf);
            if (nexts[i] == null) {
              done = true; // an empty source
              return null;
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
            return pending;
          }

          @Override
          Map<String, Object> poll() {
            Map<String, Object> r = peek();
            pending = null;
            return r;
          }

          @Override
          Map<String, Object> state() {
            throw new UnsupportedOperationException("an interleaved stream records no state (interleave_datasets)");
          }

          @Override
          public void close() {
            for (StreamIterator it : its) {
              it.close();
            }
          }
        };
      }
    };
    return new IterableDataset(next, sources.get(0).features, null, 0, 0, 1, null);
  }
}
