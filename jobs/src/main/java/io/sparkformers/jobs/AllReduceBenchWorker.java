package io.sparkformers.jobs;

import io.sparkformers.accelerate.ElementType;
import io.sparkformers.accelerate.ProcessGroup;
import io.sparkformers.accelerate.ProcessGroupOptions;
import io.sparkformers.accelerate.ProcessGroups;
import io.sparkformers.accelerate.ReduceOp;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;

/**
 * One rank of {@code sparkformers bench allreduce}: a hidden entry point that {@link BenchAllReduceCommand}
 * starts as a separate JVM per rank, with torchrun-style MASTER_ADDR, MASTER_PORT, RANK and WORLD_SIZE.
 * Arguments: comma-separated sizes in bytes, calls per size (0: by size, as the PyTorch script plans them),
 * the ring threshold in bytes, the timeout in seconds, which buffers to time ({@code registered},
 * {@code plain} or {@code both}), the collective, whether to use shared memory, and the JIT-quiet span in ms.
 * Rank 0 prints one JSON object per size and buffer kind: registered buffers come from
 * {@link ProcessGroup#allocate} (in shared memory when the ranks share a host: the all-reduce reads the peers'
 * buffers in place), plain ones from {@link ByteBuffer#allocateDirect} (staged through the group's own shared
 * slots or sockets).
 *
 * <p>Timing follows the PyTorch baseline script allreduce_bench.py: warm-up calls, a barrier, then each call
 * timed on its own; call i is the same collective on every rank, so its time is the maximum over ranks. The
 * warm-up also lasts at least half a second per size, and goes on until no rank's JIT compiler has finished a
 * compilation for a while ({@code --jit-quiet-ms}, at most {@link #WARM_UP_MAX_NANOS} in all). The script's
 * one to three calls at 16 MiB and up leave the JVM's reduction loops partly interpreted (16 MiB on 4 ranks
 * measured 22.5 ms, against 12.3 ms warm), and 4 JVMs on 2 cores were still compiling (C1 and C2 together
 * about 1 s of CPU per second) through the first sizes' timed calls: 16 MiB on 4 ranks took 11-17 ms then,
 * 3.7-4.4 ms once the compilers were done (the size repeated in one run).
 */
public final class AllReduceBenchWorker {
  private AllReduceBenchWorker() {}

  public static void main(String[] args) {
    long[] sizes = Arrays.stream(args[0].split(",")).mapToLong(Long::parseLong).toArray();
    int calls = Integer.parseInt(args[1]);
    ProcessGroupOptions options = ProcessGroupOptions.builder()
        .ringThresholdBytes(Integer.parseInt(args[2]))
        .timeout(Duration.ofSeconds(Long.parseLong(args[3])))
        .sharedMemory(args.length <= 6 || Boolean.parseBoolean(args[6]))
        .build();
    String buffers = args.length > 4 ? args[4] : "both";
    String collective = args.length > 5 ? args[5] : "allreduce";
    long jitQuietNanos = args.length > 7 ? Long.parseLong(args[7]) * 1_000_000L : 1_000_000_000L;
    try (ProcessGroup pg = ProcessGroups.fromEnvironment(System.getenv(), options)) {
      // One registered buffer of the largest size, its limit moved per size (as gradient buckets are reused).
      int maxBytes = (int) Arrays.stream(sizes).max().orElse(0);
      ByteBuffer registered = buffers.equals("plain") ? null : pg.allocate(maxBytes);
      for (long bytes : sizes) {
        if (registered != null) {
          registered.clear().limit((int) bytes);
          benchOne(pg, registered, calls, collective, jitQuietNanos);
        }
        if (!buffers.equals("registered")) {
          benchOne(pg, ByteBuffer.allocateDirect((int) bytes).order(ByteOrder.nativeOrder()), calls, collective,
              jitQuietNanos);
        }
      }
      pg.barrier();
    }
    System.exit(0);
  }

  /** Warm-up time per size on top of the script's warm-up calls (JIT compilation; see above). */
  static final long WARM_UP_NANOS = 500_000_000L;
  /** The warm-up ends at most this long after it began, even while a JVM keeps compiling. */
  static final long WARM_UP_MAX_NANOS = 20_000_000_000L;

  /**
   * Whether a JVM's JIT compilers have finished no compilation for {@code quietNanos}: the total compilation
   * time ({@code CompilationMXBean}) grows when a compilation ends. A long compilation in flight shows only
   * when it ends (C2 took half a second over the reduction loop on 4 JVMs sharing 2 cores), so the quiet span
   * is long. Always quiet where the JVM does not report compilation time, or for a span of 0.
   */
  static final class JitQuiet {
    private final java.util.function.LongSupplier totalCompilationMs;
    private final long quietNanos;
    private long lastTotalMs = Long.MIN_VALUE;
    private long lastChange;

    JitQuiet(long quietNanos, java.util.function.LongSupplier totalCompilationMs) {
      this.quietNanos = quietNanos;
      this.totalCompilationMs = totalCompilationMs;
    }

    /** This JVM's compilers. */
    static JitQuiet ofThisJvm(long quietNanos) {
      java.lang.management.CompilationMXBean jit = java.lang.management.ManagementFactory.getCompilationMXBean();
      boolean reported = jit != null && jit.isCompilationTimeMonitoringSupported();
      return new JitQuiet(reported ? quietNanos : 0, reported ? jit::getTotalCompilationTime : () -> 0L);
    }

    /** Call now and then with {@link System#nanoTime()}; the first call starts the quiet span. */
    boolean quiet(long now) {
      long total = totalCompilationMs.getAsLong();
      if (total != lastTotalMs) {
        lastTotalMs = total;
        lastChange = now;
      }
      return now - lastChange >= quietNanos;
    }
  }

  /** Warm-up and timed calls per size: the PyTorch script's plan, so that both sides do the same work. */
  static int[] plan(long bytes) {
    if (bytes <= 64 << 10) {
      return new int[] {50, 500};
    }
    if (bytes <= 1 << 20) {
      return new int[] {10, 100};
    }
    if (bytes <= 16 << 20) {
      return new int[] {3, 15};
    }
    if (bytes <= 64 << 20) {
      return new int[] {1, 9};
    }
    return new int[] {1, 5};
  }

  /**
   * Times one collective on {@code t}: "allreduce" (SUM), "broadcast" (from rank 0) or "allgather" ({@code t}
   * is each rank's input; the output, N times its size, is a plain direct buffer).
   */
  private static void benchOne(ProcessGroup pg, ByteBuffer t, int fixedCalls, String collective,
      long jitQuietNanos) {
    int n = pg.worldSize();
    int bytes = t.remaining();
    int count = bytes / 4;
    ByteBuffer gathered = collective.equals("allgather")
        ? ByteBuffer.allocateDirect(n * bytes).order(ByteOrder.nativeOrder()) : null;
    Runnable call = switch (collective) {
      case "broadcast" -> () -> pg.broadcast(t, ElementType.FLOAT32, 0);
      case "allgather" -> () -> pg.allGather(t, gathered, ElementType.FLOAT32);
      default -> () -> pg.allReduce(t, ElementType.FLOAT32, ReduceOp.SUM);
    };
    // Correctness: every rank holds rank+1; the sum is N(N+1)/2, rank 0's broadcast 1, block q of a gather q+1.
    for (int i = 0; i < count; i++) {
      t.putFloat(i * 4, pg.rank() + 1);
    }
    call.run();
    boolean ok = true;
    if (gathered != null) {
      for (int i = 0; i < n * count; i++) {
        ok &= gathered.getFloat(i * 4) == i / count + 1;
      }
    } else {
      float expect = collective.equals("broadcast") ? 1f : n * (n + 1) / 2f;
      for (int i = 0; i < count; i++) {
        ok &= t.getFloat(i * 4) == expect;
      }
    }
    for (int i = 0; i < count; i++) {
      t.putFloat(i * 4, 0f); // zeros stay zeros: no overflow or denormals while timing
    }
    int[] plan = plan(bytes);
    int warm = plan[0];
    int calls = fixedCalls > 0 ? fixedCalls : plan[1];
    for (int i = 0; i < warm; i++) {
      call.run();
    }
    // The JVM compiles the reduction loops while they run: keep warming up until every rank has spent
    // WARM_UP_NANOS in calls of this size and its compilers are quiet (the ranks agree through a MAX, so they
    // all stop together).
    ByteBuffer more = ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder());
    JitQuiet jit = JitQuiet.ofThisJvm(jitQuietNanos);
    long warmStart = System.nanoTime();
    for (; ; ) {
      long now = System.nanoTime();
      boolean quiet = jit.quiet(now);
      boolean done = now - warmStart >= WARM_UP_NANOS && quiet || now - warmStart >= WARM_UP_MAX_NANOS;
      more.putInt(0, done ? 0 : 1);
      pg.allReduce(more, ElementType.INT32, ReduceOp.MAX);
      if (more.getInt(0) == 0) {
        break;
      }
      call.run();
    }
    double warmUpSeconds = (System.nanoTime() - warmStart) / 1e9;
    pg.barrier();
    ByteBuffer times = ByteBuffer.allocateDirect(8 * (calls + 2)).order(ByteOrder.nativeOrder());
    long wall0 = System.nanoTime();
    for (int i = 0; i < calls; i++) {
      long t0 = System.nanoTime();
      call.run();
      times.putDouble(i * 8, (System.nanoTime() - t0) / 1e9);
    }
    times.putDouble(calls * 8, (System.nanoTime() - wall0) / 1e9);
    times.putDouble((calls + 1) * 8, ok ? 0 : 1);
    pg.allReduce(times, ElementType.FLOAT64, ReduceOp.MAX);
    if (pg.rank() == 0) {
      double[] ts = new double[calls];
      for (int i = 0; i < calls; i++) {
        ts[i] = times.getDouble(i * 8);
      }
      Arrays.sort(ts);
      double median = calls % 2 == 1 ? ts[calls / 2] : (ts[calls / 2 - 1] + ts[calls / 2]) / 2;
      // nccl-tests' bus bandwidth: all-reduce 2(N-1)/N of the buffer, broadcast 1, all-gather (N-1)/N of the
      // output (N times the input: (N-1) inputs received per rank).
      double factor = switch (collective) {
        case "broadcast" -> 1.0;
        case "allgather" -> n - 1.0;
        default -> 2.0 * (n - 1) / n;
      };
      System.out.println(String.format(Locale.ROOT,
          "{\"world_size\": %d, \"bytes\": %d, \"median_s\": %.9f, \"algbw_gbps\": %.4f, \"busbw_gbps\": %.4f,"
              + " \"p10_s\": %.9f, \"p90_s\": %.9f, \"mean_s\": %.9f, \"warmup\": %d, \"calls\": %d,"
              + " \"warmup_s\": %.3f, \"collective\": \"%s\", \"buffer\": \"%s\", \"correct\": %b}",
          n, bytes, median, bytes / median / 1e9, bytes * factor / median / 1e9,
          ts[Math.min(calls - 1, (int) (0.1 * calls))], ts[Math.min(calls - 1, (int) (0.9 * calls))],
          times.getDouble(calls * 8) / calls, warm, calls, warmUpSeconds, collective,
          pg.isRegistered(t) ? "registered" : "plain",
          times.getDouble((calls + 1) * 8) == 0));
      System.out.flush();
    }
  }
}
