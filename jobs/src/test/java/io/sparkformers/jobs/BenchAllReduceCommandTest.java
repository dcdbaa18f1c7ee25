package io.sparkformers.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code bench allreduce} starts real rank JVMs on 127.0.0.1; small sizes and few calls keep it quick. */
class BenchAllReduceCommandTest {
  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  private int run(String... args) {
    CommandLine cli = SparkformersCommand.commandLine();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    return cli.execute(args);
  }

  @Test
  void threeRankJvmsPrintOneJsonLinePerSizeAndBufferKindAndMemcpy() {
    assertEquals(0, run("bench", "allreduce", "--world-size", "3", "--sizes", "4,4096,400004", "--iters", "5",
        "--jit-quiet-ms", "200", "--json"), err.toString());
    List<String> lines = Arrays.stream(out.toString().split("\n")).filter(l -> !l.isBlank())
        .collect(Collectors.toList());
    assertEquals(7, lines.size(), out.toString());
    long[] bytes = {4, 4096, 400004};
    for (int i = 0; i < 6; i++) {
      String l = lines.get(i);
      long b = bytes[i / 2];
      // Per size the registered buffer first (ranks on one host share memory), then the plain one.
      String kind = i % 2 == 0 ? "registered" : "plain";
      assertTrue(l.startsWith("{\"world_size\": 3, \"bytes\": " + b + ", \"median_s\": "), l);
      assertTrue(l.contains("\"calls\": 5, \"warmup_s\": "), l);
      assertTrue(l.endsWith("\"collective\": \"allreduce\", \"buffer\": \"" + kind + "\", \"correct\": true}"), l);
      // Half a second at least, and 200 ms without a finished compilation: never less than 0.5 s.
      assertTrue(BenchAllReduceCommand.number(l, "warmup_s") >= 0.5, l);
      double median = BenchAllReduceCommand.number(l, "median_s");
      double busbw = BenchAllReduceCommand.number(l, "busbw_gbps");
      double algbw = BenchAllReduceCommand.number(l, "algbw_gbps");
      assertTrue(median > 0, l);
      assertEquals(b / median / 1e9, algbw, algbw * 1e-3 + 1e-4, l);
      assertEquals(b * 4.0 / 3 / median / 1e9, busbw, busbw * 1e-3 + 1e-4, l);
    }
    assertTrue(lines.get(6).matches("\\{\"memcpy_bytes\": 1048576, \"memcpy_gbps\": [0-9.]+}"), lines.get(6));
  }

  @Test
  void theTableNamesSizesInKiBAndMiBAndTheBufferKind() {
    assertEquals(0, run("bench", "allreduce", "--world-size", "2", "--sizes", "4096,1048576", "--iters", "3",
        "--jit-quiet-ms", "0", "--buffers", "registered"), err.toString());
    String[] lines = out.toString().split("\n");
    assertEquals("all_reduce SUM float32, sparkformers tcp, N=2 JVMs on 127.0.0.1", lines[0]);
    assertTrue(lines[1].startsWith("buffer: registered = ProcessGroup.allocate"), lines[1]);
    assertTrue(lines[3].trim().startsWith("4 KiB registered"), lines[3]);
    assertTrue(lines[4].trim().startsWith("1 MiB registered") && lines[4].endsWith("true"), lines[4]);
    assertTrue(lines[5].startsWith("memcpy (one thread, direct buffers, 1 MiB): "), lines[5]);
  }

  @Test
  void broadcastAndAllGatherOverSharedMemoryAndSocketsAreCheckedAndTimed() {
    for (String collective : List.of("broadcast", "allgather")) {
      for (boolean sockets : new boolean[] {false, true}) {
        out.getBuffer().setLength(0);
        List<String> args = new java.util.ArrayList<>(List.of("bench", "allreduce", "--world-size", "2", "--sizes",
            "4096,5000000", "--iters", "3", "--collective", collective, "--jit-quiet-ms", "0", "--json"));
        if (sockets) {
          args.add("--no-shared-memory");
        }
        assertEquals(0, run(args.toArray(new String[0])), err.toString());
        List<String> lines = Arrays.stream(out.toString().split("\n")).filter(l -> l.startsWith("{\"world_size"))
            .collect(Collectors.toList());
        assertEquals(4, lines.size(), out.toString());
        for (String l : lines) {
          assertTrue(l.contains("\"collective\": \"" + collective + "\""), l);
          assertTrue(l.endsWith("\"correct\": true}"), l);
        }
        // Sockets only: nothing is registered.
        assertEquals(sockets ? 0 : 2, lines.stream().filter(l -> l.contains("\"buffer\": \"registered\"")).count(),
            out.toString());
        double busbw = BenchAllReduceCommand.number(lines.get(2), "busbw_gbps");
        double median = BenchAllReduceCommand.number(lines.get(2), "median_s");
        assertEquals(5000000 / median / 1e9, busbw, busbw * 1e-3 + 1e-4, lines.get(2)); // N=2: factor 1 for both
      }
    }
  }

  @Test
  void badSizesAndWorldSizesAreUsageErrors() {
    assertEquals(2, run("bench", "allreduce", "--sizes", "4096,10"));
    assertTrue(err.toString().contains("--sizes: 10 must be a positive multiple of 4 (float32) of at most 1 GiB"),
        err.toString());
    assertEquals(2, run("bench", "allreduce", "--sizes", "4k"));
    assertTrue(err.toString().contains("--sizes: '4k' is not a number of bytes"), err.toString());
    assertEquals(2, run("bench", "allreduce", "--world-size", "1"));
    assertTrue(err.toString().contains("--world-size must be between 2 and 64, got 1"), err.toString());
    assertEquals(2, run("bench", "allreduce", "--buffers", "pinned"));
    assertTrue(err.toString().contains("--buffers must be one of both, registered, plain; got 'pinned'"),
        err.toString());
    assertEquals(2, run("bench", "allreduce", "--jit-quiet-ms", "-1"));
    assertTrue(err.toString().contains("--jit-quiet-ms must be at least 0, got -1"), err.toString());
    assertEquals(2, run("bench", "allreduce", "--collective", "reduce"));
    assertTrue(err.toString().contains("--collective must be one of allreduce, broadcast, allgather; got 'reduce'"),
        err.toString());
  }

  @Test
  void warmUpWaitsUntilNoCompilationHasFinishedForTheQuietSpan() {
    long[] totalMs = {100};
    AllReduceBenchWorker.JitQuiet jit = new AllReduceBenchWorker.JitQuiet(1_000, () -> totalMs[0]);
    assertTrue(!jit.quiet(0), "the first call starts the span");
    assertTrue(!jit.quiet(999));
    assertTrue(jit.quiet(1_000));
    totalMs[0] = 130; // a compilation finished: the span starts again
    assertTrue(!jit.quiet(1_500));
    assertTrue(!jit.quiet(2_499));
    assertTrue(jit.quiet(2_500));
    AllReduceBenchWorker.JitQuiet off = new AllReduceBenchWorker.JitQuiet(0, () -> totalMs[0]);
    assertTrue(off.quiet(0));
  }
}
