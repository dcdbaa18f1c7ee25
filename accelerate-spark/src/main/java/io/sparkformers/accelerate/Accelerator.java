package io.sparkformers.accelerate;

import ai.djl.Device;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * What Hugging Face accelerate gives a training script: who am I ({@link #rank()}, {@link #isMainProcess()},
 * {@link #device()}), {@link #waitForEveryone()}, reductions and gathers of metric values, printing on the
 * main process only, and per-rank state saved and loaded together ({@link #registerForCheckpointing}).
 *
 * <pre>{@code
 * BarrierLauncher.run(sc, 2, ctx -> {
 *   Accelerator acc = Accelerator.of(ctx);
 *   double meanLoss = acc.reduce(localLoss, ReduceOp.AVG);
 *   acc.print("loss " + meanLoss);                      // once, from rank 0
 *   Accelerator.MetricsGatherer g = acc.metricsGatherer(evalSetSize);
 *   for (batch : myShard) { long[] all = g.gather(predictions, 1); ... } // duplicates of the last batch dropped
 *   return null;
 * });
 * }</pre>
 *
 * <p>It does not own the process group unless it opened it ({@link #singleRank()}).
 */
public final class Accelerator implements AutoCloseable {
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.-]+");

  private final ProcessGroup group;
  private final Device device;
  private final boolean ownsGroup;
  private final Map<String, Checkpointable> states = new LinkedHashMap<>();
  private PrintStream out = System.out;

  private Accelerator(ProcessGroup group, Device device, boolean ownsGroup) {
    this.group = group;
    this.device = device;
    this.ownsGroup = ownsGroup;
  }

  /** The accelerator of a rank launched by {@link BarrierLauncher}. */
  public static Accelerator of(RankContext context) {
    return new Accelerator(context.processGroup(), context.device(), false);
  }

  /** An accelerator over a group opened elsewhere (e.g. {@link ProcessGroups#fromEnvironment()}). */
  public static Accelerator of(ProcessGroup group, Device device) {
    return new Accelerator(group, device, false);
  }

  /** One rank on the CPU, no Spark: what a notebook or a unit test trains with. */
  public static Accelerator singleRank() {
    return new Accelerator(ProcessGroups.singleRank(), Device.cpu(), true);
  }

  public ProcessGroup processGroup() {
    return group;
  }

  public int rank() {
    return group.rank();
  }

  public int worldSize() {
    return group.worldSize();
  }

  public boolean isMainProcess() {
    return group.rank() == 0;
  }

  public Device device() {
    return device;
  }

  /** Returns when every rank has called it (accelerate's {@code wait_for_everyone}). */
  public void waitForEveryone() {
    group.barrier();
  }

  /** Prints a line on the main process only. */
  public void print(String line) {
    if (isMainProcess()) {
      out.println(line);
    }
  }

  void printTo(PrintStream stream) {
    this.out = stream;
  }

  // ---------------------------------------------------------------- reduce

  /** {@code value} reduced over all ranks (AVG divides the sum by the world size). */
  public double reduce(double value, ReduceOp op) {
    return reduce(new double[] {value}, op)[0];
  }

  /** Each element reduced over all ranks; returns a new array. */
  public double[] reduce(double[] values, ReduceOp op) {
    ByteBuffer b = direct(values.length * 8L);
    b.asDoubleBuffer().put(values);
    group.allReduce(b, ElementType.FLOAT64, op);
    double[] r = new double[values.length];
    b.asDoubleBuffer().get(r);
    return r;
  }

  /** {@code value} reduced over all ranks (AVG truncates, as integer division does). */
  public long reduce(long value, ReduceOp op) {
    return reduce(new long[] {value}, op)[0];
  }

  public long[] reduce(long[] values, ReduceOp op) {
    ByteBuffer b = direct(values.length * 8L);
    b.asLongBuffer().put(values);
    group.allReduce(b, ElementType.INT64, op);
    long[] r = new long[values.length];
    b.asLongBuffer().get(r);
    return r;
  }

  // ---------------------------------------------------------------- gather

  /** Every rank's values, concatenated in rank order; ranks may hold different numbers of values. */
  public double[] gather(double[] values) {
    ByteBuffer b = direct(values.length * 8L);
    b.asDoubleBuffer().put(values);
    ByteBuffer all = gatherBytes(b, ElementType.FLOAT64);
    double[] r = new double[all.remaining() / 8];
    all.asDoubleBuffer().get(r);
    return r;
  }

  public float[] gather(float[] values) {
    ByteBuffer b = direct(values.length * 4L);
    b.asFloatBuffer().put(values);
    ByteBuffer all = gatherBytes(b, ElementType.FLOAT32);
    float[] r = new float[all.remaining() / 4];
    all.asFloatBuffer().get(r);
    return r;
  }

  public long[] gather(long[] values) {
    ByteBuffer b = direct(values.length * 8L);
    b.asLongBuffer().put(values);
    ByteBuffer all = gatherBytes(b, ElementType.INT64);
    long[] r = new long[all.remaining() / 8];
    all.asLongBuffer().get(r);
    return r;
  }

  /** Gathers buffers of possibly different sizes: sizes first, then blocks padded to the largest. */
  private ByteBuffer gatherBytes(ByteBuffer mine, ElementType type) {
    int n = worldSize();
    ByteBuffer size = direct(8);
    size.putLong(0, mine.remaining());
    ByteBuffer sizes = direct(8L * n);
    group.allGather(size, sizes, ElementType.INT64);
    int max = 0;
    int total = 0;
    for (int r = 0; r < n; r++) {
      int s = (int) sizes.getLong(r * 8);
      max = Math.max(max, s);
      total += s;
    }
    ByteBuffer padded = direct(max);
    padded.put(mine.duplicate()).clear();
    ByteBuffer all = direct((long) max * n);
    group.allGather(padded, all, type);
    ByteBuffer out = direct(total);
    for (int r = 0; r < n; r++) {
      int s = (int) sizes.getLong(r * 8);
      out.put(all.duplicate().limit(r * max + s).position(r * max));
    }
    return out.flip().order(ByteOrder.nativeOrder());
  }

  /**
   * Gathers metric inputs over an evaluation set of {@code datasetSize} samples, dropping the samples that
   * were duplicated to even out the last batch across ranks, as accelerate's {@code gather_for_metrics} does:
   * the gathered samples beyond {@code datasetSize} (counted over all calls) are the duplicates, and they
   * come last in rank order, so they are cut from the end.
   */
  public MetricsGatherer metricsGatherer(long datasetSize) {
    if (datasetSize < 0) {
      throw new IllegalArgumentException("datasetSize must be >= 0, got " + datasetSize);
    }
    return new MetricsGatherer(datasetSize);
  }

  /** See {@link Accelerator#metricsGatherer}. One per pass over an evaluation set. */
  public final class MetricsGatherer {
    private final long datasetSize;
    private long gathered;

    private MetricsGatherer(long datasetSize) {
      this.datasetSize = datasetSize;
    }

    /** Gathers {@code values} ({@code valuesPerSample} per sample) and drops duplicated samples. */
    public double[] gather(double[] values, int valuesPerSample) {
      double[] all = Accelerator.this.gather(values);
      return java.util.Arrays.copyOf(all, keep(all.length, valuesPerSample));
    }

    public float[] gather(float[] values, int valuesPerSample) {
      float[] all = Accelerator.this.gather(values);
      return java.util.Arrays.copyOf(all, keep(all.length, valuesPerSample));
    }

    public long[] gather(long[] values, int valuesPerSample) {
      long[] all = Accelerator.this.gather(values);
      return java.util.Arrays.copyOf(all, keep(all.length, valuesPerSample));
    }

    /** Samples kept so far (at most the dataset size). */
    public long samplesGathered() {
      return Math.min(gathered, datasetSize);
    }

    private int keep(int length, int valuesPerSample) {
      if (valuesPerSample <= 0 || length % valuesPerSample != 0) {
        throw new IllegalArgumentException("gathered " + length + " values, not a whole number of samples of "
            + valuesPerSample + " values");
      }
      long samples = length / valuesPerSample;
      long room = Math.max(0, datasetSize - gathered);
      gathered += samples;
      return (int) (Math.min(samples, room) * valuesPerSample);
    }
  }

  // ---------------------------------------------------------------- state

  /**
   * Registers per-rank state under {@code name}; {@link #saveState} writes it as {@code <name>_<rank>.bin}.
   * Names are letters, digits, '_', '.', '-', unique per accelerator.
   */
  public void registerForCheckpointing(String name, Checkpointable state) {
    if (name == null || !NAME.matcher(name).matches()) {
      throw new IllegalArgumentException("checkpoint name '" + name
          + "' must be letters, digits, '_', '.' or '-'");
    }
    if (states.putIfAbsent(name, state) != null) {
      throw new IllegalArgumentException("checkpoint name '" + name + "' is registered already");
    }
  }

  /**
   * Every rank writes its registered states into {@code dir} (each file atomically: a temporary file, then a
   * rename), then waits for the others, so that the checkpoint is complete when any rank goes on.
   */
  public void saveState(Path dir) {
    try {
      Files.createDirectories(dir);
      for (Map.Entry<String, Checkpointable> e : states.entrySet()) {
        Path target = stateFile(dir, e.getKey());
        Path tmp = dir.resolve(target.getFileName() + ".tmp");
        try (OutputStream os = Files.newOutputStream(tmp)) {
          e.getValue().save(os);
        }
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("rank " + rank() + ": cannot save state into " + dir, e);
    }
    waitForEveryone();
  }

  /** Every rank reads back its registered states from {@code dir}. */
  public void loadState(Path dir) {
    for (Map.Entry<String, Checkpointable> e : states.entrySet()) {
      Path file = stateFile(dir, e.getKey());
      try (InputStream in = Files.newInputStream(file)) {
        e.getValue().load(in);
      } catch (NoSuchFileException ex) {
        throw new IllegalStateException("rank " + rank() + ": checkpoint " + dir + " has no state '" + e.getKey()
            + "' for this rank (expected " + file.getFileName() + "); was it saved with "
            + worldSize() + " ranks?", ex);
      } catch (IOException ex) {
        throw new UncheckedIOException("rank " + rank() + ": cannot load " + file, ex);
      }
    }
    waitForEveryone();
  }

  /**
   * {@link #saveState(Path)} to any Hadoop file system: {@code uri} is a folder such as {@code s3a://bucket/run},
   * {@code hdfs://nn/run} or {@code file:/tmp/run}, {@code conf} holds its settings (endpoints, credentials).
   * Each file is written under a temporary name and then renamed; on object stores (where a rename is a copy)
   * a reader still never sees a half-written file under the final name.
   */
  public void saveState(String uri, org.apache.hadoop.conf.Configuration conf) {
    org.apache.hadoop.fs.Path dir = new org.apache.hadoop.fs.Path(uri);
    try {
      org.apache.hadoop.fs.FileSystem fs = dir.getFileSystem(conf);
      fs.mkdirs(dir);
      for (Map.Entry<String, Checkpointable> e : states.entrySet()) {
        org.apache.hadoop.fs.Path target = new org.apache.hadoop.fs.Path(dir, stateName(e.getKey()));
        org.apache.hadoop.fs.Path tmp = new org.apache.hadoop.fs.Path(dir, stateName(e.getKey()) + ".tmp");
        try (OutputStream os = fs.create(tmp, true)) {
          e.getValue().save(os);
        }
        fs.delete(target, false);
        if (!fs.rename(tmp, target)) {
          throw new IOException("cannot rename " + tmp + " to " + target);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("rank " + rank() + ": cannot save state into " + uri, e);
    }
    waitForEveryone();
  }

  /** {@link #loadState(Path)} from any Hadoop file system (see {@link #saveState(String, org.apache.hadoop.conf.Configuration)}). */
  public void loadState(String uri, org.apache.hadoop.conf.Configuration conf) {
    org.apache.hadoop.fs.Path dir = new org.apache.hadoop.fs.Path(uri);
    for (Map.Entry<String, Checkpointable> e : states.entrySet()) {
      org.apache.hadoop.fs.Path file = new org.apache.hadoop.fs.Path(dir, stateName(e.getKey()));
      try (InputStream in = dir.getFileSystem(conf).open(file)) {
        e.getValue().load(in);
      } catch (java.io.FileNotFoundException ex) {
        throw new IllegalStateException("rank " + rank() + ": checkpoint " + uri + " has no state '" + e.getKey()
            + "' for this rank (expected " + file.getName() + "); was it saved with " + worldSize() + " ranks?", ex);
      } catch (IOException ex) {
        throw new UncheckedIOException("rank " + rank() + ": cannot load " + file, ex);
      }
    }
    waitForEveryone();
  }

  private String stateName(String name) {
    return name + "_" + rank() + ".bin";
  }

  private Path stateFile(Path dir, String name) {
    return dir.resolve(name + "_" + rank() + ".bin");
  }

  private static ByteBuffer direct(long bytes) {
    if (bytes > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(bytes + " bytes do not fit one buffer");
    }
    return ByteBuffer.allocateDirect((int) bytes).order(ByteOrder.nativeOrder());
  }

  @Override
  public void close() {
    if (ownsGroup) {
      group.close();
    }
  }
}
