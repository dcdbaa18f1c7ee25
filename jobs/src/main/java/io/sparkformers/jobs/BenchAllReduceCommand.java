package io.sparkformers.jobs;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code sparkformers bench allreduce}: all-reduce (SUM, float32) latency and bandwidth of the TCP process
 * group, with N ranks as separate JVMs on 127.0.0.1 (torchrun-style rendezvous), timed the way
 * The PyTorch baseline script allreduce_bench.py times PyTorch's gloo, so that the two compare side by side.
 */
@Command(
    name = "allreduce",
    mixinStandardHelpOptions = true,
    description = {
      "All-reduce (SUM, float32) latency and bandwidth between N rank JVMs on 127.0.0.1.",
      "Per size: median latency, algbw = bytes/time, busbw = bytes*2(N-1)/N/time (as nccl-tests),",
      "plus this machine's memcpy bandwidth measured in the same run."
    })
public final class BenchAllReduceCommand implements Callable<Integer> {
  static final String DEFAULT_SIZES = "4096,65536,1048576,16777216,67108864";

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--world-size", defaultValue = "2", description = "Ranks (JVMs) to start (default ${DEFAULT-VALUE}).")
  int worldSize;

  @Option(names = "--sizes", defaultValue = DEFAULT_SIZES,
      description = "Comma-separated message sizes in bytes, multiples of 4 (default ${DEFAULT-VALUE}).")
  String sizes;

  @Option(names = "--iters", defaultValue = "0",
      description = "Timed calls per size; 0 plans them by size as the PyTorch script does (default).")
  int iters;

  @Option(names = "--ring-threshold", defaultValue = "262144",
      description = "Bytes from which all-reduce uses the ring instead of recursive doubling (default ${DEFAULT-VALUE}).")
  int ringThreshold;

  @Option(names = "--timeout", defaultValue = "120", description = "Seconds a collective may wait (default ${DEFAULT-VALUE}).")
  int timeoutSeconds;

  @Option(names = "--buffers", defaultValue = "both",
      description = "Buffers to time: 'registered' (ProcessGroup.allocate: in shared memory, reduced in place),"
          + " 'plain' (allocateDirect: staged copies), or 'both' (default).")
  String buffers;

  @Option(names = "--collective", defaultValue = "allreduce",
      description = "allreduce (SUM, default), broadcast (from rank 0) or allgather (sizes are each rank's input;"
          + " busbw = input bytes*(N-1)/time).")
  String collective;

  @Option(names = "--no-shared-memory", description = "Ranks talk over sockets only (the group's sharedMemory off).")
  boolean noSharedMemory;

  @Option(names = "--jit-quiet-ms", defaultValue = "1000",
      description = "Warm-up per size goes on until no rank's JIT compiler has finished a compilation for this long"
          + " (at most 20 s); 0: half a second only. JVMs still compiling share the cores with the ranks (default"
          + " ${DEFAULT-VALUE}).")
  long jitQuietMs;

  @Option(names = "--json", description = "Print one JSON object per line instead of a table.")
  boolean json;

  @Override
  public Integer call() throws Exception {
    if (worldSize < 2 || worldSize > 64) {
      throw new CommandLine.ParameterException(spec.commandLine(),
          "--world-size must be between 2 and 64, got " + worldSize);
    }
    if (jitQuietMs < 0) {
      throw new CommandLine.ParameterException(spec.commandLine(),
          "--jit-quiet-ms must be at least 0, got " + jitQuietMs);
    }
    if (!List.of("both", "registered", "plain").contains(buffers)) {
      throw new CommandLine.ParameterException(spec.commandLine(),
          "--buffers must be one of both, registered, plain; got '" + buffers + "'");
    }
    if (!List.of("allreduce", "broadcast", "allgather").contains(collective)) {
      throw new CommandLine.ParameterException(spec.commandLine(),
          "--collective must be one of allreduce, broadcast, allgather; got '" + collective + "'");
    }
    long[] byteSizes = parseSizes();
    PrintWriter out = spec.commandLine().getOut();
    long maxBytes = Arrays.stream(byteSizes).max().orElse(0);
    double memcpy = memcpyGbps((int) Math.max(1 << 20, Math.min(maxBytes, 256L << 20)));
    List<String> lines = runRanks(byteSizes, maxBytes);
    if (json) {
      lines.forEach(out::println);
      out.println(String.format(Locale.ROOT, "{\"memcpy_bytes\": %d, \"memcpy_gbps\": %.4f}",
          Math.max(1 << 20, Math.min(maxBytes, 256L << 20)), memcpy));
    } else {
      String what = switch (collective) {
        case "broadcast" -> "broadcast from rank 0";
        case "allgather" -> "all_gather";
        default -> "all_reduce SUM";
      };
      out.println(String.format(Locale.ROOT, "%s float32, sparkformers tcp%s, N=%d JVMs on 127.0.0.1", what,
          noSharedMemory ? " (sockets only)" : "", worldSize));
      out.println("buffer: registered = ProcessGroup.allocate (same host: shared memory, reduced in place);"
          + " plain = allocateDirect (staged copies)");
      out.println(String.format(Locale.ROOT, "%10s %-11s %11s %11s %11s %12s %12s %s", "size", "buffer",
          "median(us)", "p10(us)", "p90(us)", "algbw(GB/s)", "busbw(GB/s)", "ok"));
      for (String line : lines) {
        Matcher kind = Pattern.compile("\"buffer\": \"([a-z]+)\"").matcher(line);
        out.println(String.format(Locale.ROOT, "%10s %-11s %11.1f %11.1f %11.1f %12.3f %12.3f %s",
            sizeName((long) number(line, "bytes")), kind.find() ? kind.group(1) : "?", number(line, "median_s") * 1e6,
            number(line, "p10_s") * 1e6, number(line, "p90_s") * 1e6, number(line, "algbw_gbps"),
            number(line, "busbw_gbps"), line.contains("\"correct\": true")));
      }
      out.println(String.format(Locale.ROOT, "memcpy (one thread, direct buffers, %s): %.2f GB/s",
          sizeName(Math.max(1 << 20, Math.min(maxBytes, 256L << 20))), memcpy));
    }
    out.flush();
    boolean allCorrect = lines.stream().allMatch(l -> l.contains("\"correct\": true"));
    return allCorrect ? 0 : 1;
  }

  private long[] parseSizes() {
    List<Long> out = new ArrayList<>();
    for (String s : sizes.split(",")) {
      long v;
      try {
        v = Long.parseLong(s.trim());
      } catch (NumberFormatException e) {
        throw new CommandLine.ParameterException(spec.commandLine(),
            "--sizes: '" + s.trim() + "' is not a number of bytes");
      }
      if (v <= 0 || v % 4 != 0 || v > (1L << 30)) {
        throw new CommandLine.ParameterException(spec.commandLine(),
            "--sizes: " + v + " must be a positive multiple of 4 (float32) of at most 1 GiB");
      }
      out.add(v);
    }
    return out.stream().mapToLong(Long::longValue).toArray();
  }

  /** Starts one JVM per rank, returns rank 0's JSON lines; every rank's errors go to this process's stderr. */
  private List<String> runRanks(long[] byteSizes, long maxBytes) throws IOException, InterruptedException {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
    long heapMb = Math.max(256, 3 * maxBytes / (1 << 20) + 256);
    // An all-gather's output is N inputs.
    long directMb = (collective.equals("allgather") ? worldSize + 2 : 3) * maxBytes / (1 << 20) + 256;
    List<Process> ranks = new ArrayList<>();
    String joined = Arrays.stream(byteSizes).mapToObj(Long::toString).reduce((a, b) -> a + "," + b).orElse("");
    try {
      for (int r = 0; r < worldSize; r++) {
        ProcessBuilder pb = new ProcessBuilder(java, "-Xms64m", "-Xmx" + heapMb + "m",
            "-XX:MaxDirectMemorySize=" + directMb + "m", "-XX:+UseSerialGC",
            "-Dslf4j.internal.verbosity=WARN",
            "-cp", System.getProperty("java.class.path"), AllReduceBenchWorker.class.getName(),
            joined, Integer.toString(iters), Integer.toString(ringThreshold), Integer.toString(timeoutSeconds),
            buffers, collective, Boolean.toString(!noSharedMemory), Long.toString(jitQuietMs));
        pb.environment().put("MASTER_ADDR", "127.0.0.1");
        pb.environment().put("MASTER_PORT", Integer.toString(port));
        pb.environment().put("RANK", Integer.toString(r));
        pb.environment().put("WORLD_SIZE", Integer.toString(worldSize));
        pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        if (r != 0) {
          pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
        }
        ranks.add(pb.start());
      }
      List<String> lines = new ArrayList<>();
      try (BufferedReader in = new BufferedReader(
          new InputStreamReader(ranks.get(0).getInputStream(), StandardCharsets.UTF_8))) {
        for (String line; (line = in.readLine()) != null; ) {
          if (line.startsWith("{\"world_size\"")) {
            lines.add(line);
          }
        }
      }
      for (int r = 0; r < worldSize; r++) {
        Process p = ranks.get(r);
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
          throw new IllegalStateException("rank " + r + " did not exit within " + timeoutSeconds + " s");
        }
        if (p.exitValue() != 0) {
          throw new IllegalStateException("rank " + r + " exited with status " + p.exitValue()
              + " (its error is printed above)");
        }
      }
      return lines;
    } finally {
      for (Process p : ranks) {
        if (p.isAlive()) {
          p.destroyForcibly();
        }
      }
    }
  }

  /** Median of 9 copies between two direct buffers (a JVM memcpy), in GB/s. */
  static double memcpyGbps(int bytes) {
    ByteBuffer src = ByteBuffer.allocateDirect(bytes);
    ByteBuffer dst = ByteBuffer.allocateDirect(bytes);
    for (int i = 0; i < bytes; i += 4096) {
      src.put(i, (byte) i);
      dst.put(i, (byte) 1);
    }
    double[] ts = new double[9];
    for (int k = -2; k < ts.length; k++) {
      long t0 = System.nanoTime();
      dst.clear();
      dst.put(src.duplicate().clear());
      if (k >= 0) {
        ts[k] = (System.nanoTime() - t0) / 1e9;
      }
    }
    Arrays.sort(ts);
    return bytes / ts[ts.length / 2] / 1e9;
  }

  static double number(String jsonLine, String key) {
    Matcher m = Pattern.compile("\"" + key + "\": ([-0-9.eE]+)").matcher(jsonLine);
    if (!m.find()) {
      throw new IllegalStateException("no " + key + " in " + jsonLine);
    }
    return Double.parseDouble(m.group(1));
  }

  static String sizeName(long bytes) {
    return bytes >= (1 << 20) && bytes % (1 << 20) == 0 ? bytes / (1 << 20) + " MiB"
        : bytes >= 1024 && bytes % 1024 == 0 ? bytes / 1024 + " KiB" : bytes + " B";
  }
}
