package io.sparkformers.accelerate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Accelerator on three ranks formed by the torchrun-style environment rendezvous (threads of this JVM). */
class AcceleratorTest {
  private static final int N = 3;
  private static final List<Accelerator> ACCS = new ArrayList<>();
  private static ExecutorService threads;

  interface Body<T> {
    T run(Accelerator acc) throws Exception;
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @BeforeAll
  static void formGroups() throws Exception {
    threads = Executors.newFixedThreadPool(N);
    int port = freePort();
    ProcessGroupOptions options = ProcessGroupOptions.builder().timeout(Duration.ofSeconds(30)).build();
    List<Future<ProcessGroup>> fs = new ArrayList<>();
    for (int r = 0; r < N; r++) {
      Map<String, String> env = Map.of("MASTER_ADDR", "127.0.0.1", "MASTER_PORT", Integer.toString(port),
          "RANK", Integer.toString(r), "WORLD_SIZE", Integer.toString(N));
      fs.add(threads.submit(() -> ProcessGroups.fromEnvironment(env, options)));
    }
    for (Future<ProcessGroup> f : fs) {
      ACCS.add(Accelerator.of(f.get(60, TimeUnit.SECONDS), Device.cpu()));
    }
  }

  @AfterAll
  static void close() {
    ACCS.forEach(a -> a.processGroup().close());
    threads.shutdownNow();
  }

  static <T> List<T> onEveryRank(Body<T> body) throws Exception {
    List<Future<T>> fs = new ArrayList<>();
    for (Accelerator acc : ACCS) {
      fs.add(threads.submit(() -> body.run(acc)));
    }
    List<T> out = new ArrayList<>();
    for (Future<T> f : fs) {
      out.add(f.get(60, TimeUnit.SECONDS));
    }
    return out;
  }

  @Test
  void ranksFromTheEnvironmentKnowWhoTheyAre() throws Exception {
    assertEquals(List.of("0/3 main", "1/3", "2/3"), onEveryRank(a -> a.rank() + "/" + a.worldSize()
        + (a.isMainProcess() ? " main" : "")));
  }

  @Test
  void reduceMetricValues() throws Exception {
    List<String> out = onEveryRank(a -> {
      int r = a.rank();
      return a.reduce(r + 0.5, ReduceOp.SUM) + " " + a.reduce(r + 0.5, ReduceOp.AVG) + " "
          + a.reduce(10L * r - 7, ReduceOp.MIN) + " " + Arrays.toString(a.reduce(new double[] {r, -r},
          ReduceOp.MAX)) + " " + a.reduce(r + 1L, ReduceOp.AVG);
    });
    for (String s : out) {
      assertEquals("4.5 1.5 -7 [2.0, 0.0] 2", s);
    }
  }

  @Test
  void gatherConcatenatesInRankOrderWithDifferentLengths() throws Exception {
    List<String> out = onEveryRank(a -> {
      int r = a.rank();
      long[] mine = new long[r + 1];
      Arrays.fill(mine, 10 + r);
      float[] f = r == 1 ? new float[0] : new float[] {r + 0.25f};
      return Arrays.toString(a.gather(mine)) + " " + Arrays.toString(a.gather(f));
    });
    for (String s : out) {
      assertEquals("[10, 11, 11, 12, 12, 12] [0.25, 2.25]", s);
    }
  }

  @Test
  void gatherForMetricsDropsTheSamplesDuplicatedToEvenTheLastBatch() throws Exception {
    // 9 samples, batch 2 per rank, 3 ranks: round 1 holds samples 0-5; in round 2 rank 0 gets 6,7, rank 1 gets
    // 8 and sample 0 again, rank 2 samples 1 and 2 again (accelerate's even_batches).
    long[][][] batches = {
        {{0, 1}, {6, 7}},
        {{2, 3}, {8, 0}},
        {{4, 5}, {1, 2}}};
    List<String> out = onEveryRank(a -> {
      Accelerator.MetricsGatherer g = a.metricsGatherer(9);
      List<Long> seen = new ArrayList<>();
      for (long[] batch : batches[a.rank()]) {
        // Two values per sample: the sample id and its square.
        long[] values = new long[batch.length * 2];
        for (int i = 0; i < batch.length; i++) {
          values[2 * i] = batch[i];
          values[2 * i + 1] = batch[i] * batch[i];
        }
        for (long v : g.gather(values, 2)) {
          seen.add(v);
        }
      }
      return seen + " " + g.samplesGathered();
    });
    for (String s : out) {
      assertEquals("[0, 0, 1, 1, 2, 4, 3, 9, 4, 16, 5, 25, 6, 36, 7, 49, 8, 64] 9", s);
    }
  }

  @Test
  void printsOnTheMainProcessOnly() throws Exception {
    List<String> out = onEveryRank(a -> {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      a.printTo(new PrintStream(bytes, true));
      a.print("epoch 1 loss 0.25");
      a.printTo(System.out);
      return bytes.toString();
    });
    assertEquals(List.of("epoch 1 loss 0.25" + System.lineSeparator(), "", ""), out);
  }

  /** A counter as per-rank state. */
  static final class Counter implements Checkpointable {
    long value;

    @Override
    public void save(OutputStream out) throws IOException {
      new DataOutputStream(out).writeLong(value);
    }

    @Override
    public void load(InputStream in) throws IOException {
      value = new DataInputStream(in).readLong();
    }
  }

  @Test
  void perRankStateIsSavedAndLoadedTogether(@TempDir Path dir) throws Exception {
    List<Long> out = onEveryRank(a -> {
      Accelerator acc = Accelerator.of(a.processGroup(), a.device());
      Counter c = new Counter();
      acc.registerForCheckpointing("rng", c);
      c.value = 100 + a.rank();
      acc.saveState(dir);
      c.value = -1;
      acc.loadState(dir);
      return c.value;
    });
    assertEquals(List.of(100L, 101L, 102L), out);
    assertEquals("rng_0.bin, rng_1.bin, rng_2.bin", Files.list(dir).map(p -> p.getFileName().toString())
        .sorted().collect(Collectors.joining(", ")));
  }

  @Test
  void perRankStateGoesThroughAHadoopFileSystemUri(@TempDir Path dir) throws Exception {
    String uri = dir.resolve("ckpt").toUri().toString(); // file:/...: the same code serves hdfs:// and s3a://
    org.apache.hadoop.conf.Configuration conf = new org.apache.hadoop.conf.Configuration();
    List<Long> out = onEveryRank(a -> {
      Accelerator acc = Accelerator.of(a.processGroup(), a.device());
      Counter c = new Counter();
      acc.registerForCheckpointing("rng", c);
      c.value = 200 + a.rank();
      acc.saveState(uri, conf);
      c.value = -1;
      acc.loadState(uri, conf);
      return c.value;
    });
    assertEquals(List.of(200L, 201L, 202L), out);
    // No temporary files left: each state was renamed into place.
    assertEquals("rng_0.bin, rng_1.bin, rng_2.bin", Files.list(dir.resolve("ckpt"))
        .map(p -> p.getFileName().toString()).filter(n -> !n.startsWith(".")).sorted()
        .collect(Collectors.joining(", ")));
    Accelerator single = Accelerator.singleRank();
    single.registerForCheckpointing("optimizer", new Counter());
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> single.loadState(uri, conf));
    assertEquals("rank 0: checkpoint " + uri + " has no state 'optimizer' for this rank (expected optimizer_0.bin);"
        + " was it saved with 1 ranks?", e.getMessage());
    single.close();
  }

  @Test
  void loadingAMissingStateNamesTheFile(@TempDir Path dir) {
    Accelerator acc = Accelerator.singleRank();
    acc.registerForCheckpointing("optimizer", new Counter());
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> acc.loadState(dir));
    assertEquals("rank 0: checkpoint " + dir + " has no state 'optimizer' for this rank (expected optimizer_0.bin);"
        + " was it saved with 1 ranks?", e.getMessage());
    IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
        () -> acc.registerForCheckpointing("a/b", new Counter()));
    assertEquals("checkpoint name 'a/b' must be letters, digits, '_', '.' or '-'", bad.getMessage());
    assertThrows(IllegalArgumentException.class, () -> acc.registerForCheckpointing("optimizer", new Counter()));
    acc.close();
  }

  @Test
  void aSingleRankAcceleratorNeedsNoPeers() {
    try (Accelerator acc = Accelerator.singleRank()) {
      assertTrue(acc.isMainProcess());
      assertEquals(1, acc.worldSize());
      assertEquals(2.5, acc.reduce(2.5, ReduceOp.AVG));
      assertArrayEquals(new long[] {1, 2}, acc.gather(new long[] {1, 2}));
      acc.waitForEveryone();
      assertEquals(Device.cpu(), acc.device());
    }
  }

  @Test
  void theEnvironmentRendezvousNamesAMissingOrBadVariable() {
    ProcessGroupOptions o = ProcessGroupOptions.defaults();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ProcessGroups.fromEnvironment(
        Map.of("MASTER_ADDR", "127.0.0.1", "RANK", "0", "WORLD_SIZE", "2"), o));
    assertEquals("environment variable MASTER_PORT is not set (a rendezvous without Spark needs MASTER_ADDR,"
        + " MASTER_PORT, RANK and WORLD_SIZE)", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> ProcessGroups.fromEnvironment(
        Map.of("MASTER_ADDR", "127.0.0.1", "MASTER_PORT", "29500", "RANK", "2", "WORLD_SIZE", "2"), o));
    assertEquals("environment variable RANK=2 is outside 0..1", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> ProcessGroups.fromEnvironment(
        Map.of("MASTER_ADDR", "127.0.0.1", "MASTER_PORT", "x", "RANK", "0", "WORLD_SIZE", "2"), o));
    assertEquals("environment variable MASTER_PORT='x' is not an integer", e.getMessage());
  }

  @Test
  void theEnvironmentRendezvousOffLoopbackNeedsASharedSecret() {
    ProcessGroupOptions o = ProcessGroupOptions.defaults();
    // 192.0.2.1 is TEST-NET-1: never routed, and refused before anything is sent or bound.
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ProcessGroups.fromEnvironment(
        Map.of("MASTER_ADDR", "192.0.2.1", "MASTER_PORT", "29500", "RANK", "1", "WORLD_SIZE", "2"), o));
    assertEquals("environment variable SPARKFORMERS_SECRET is not set, and MASTER_ADDR=192.0.2.1 is not a loopback"
        + " address: without it the rendezvous would send the run's secret over the network in the clear. Set"
        + " SPARKFORMERS_SECRET to the same base64 value on every rank (for example the output of"
        + " 'openssl rand -base64 32')", e.getMessage());
    // With a secret the check passes; rank 1 then fails to listen on an address that is not this host's.
    RuntimeException later = assertThrows(RuntimeException.class, () -> ProcessGroups.fromEnvironment(
        Map.of("MASTER_ADDR", "192.0.2.1", "MASTER_PORT", "29500", "RANK", "1", "WORLD_SIZE", "2",
            "SPARKFORMERS_SECRET", "c2VjcmV0"), o));
    assertTrue(later.getMessage().contains("cannot listen on 192.0.2.1"), later.getMessage());
  }

  @Test
  void aRankWhosePeerNeverJoinsFailsWithinTheTimeout() throws Exception {
    ProcessGroupOptions o = ProcessGroupOptions.builder().timeout(Duration.ofSeconds(1)).build();
    int port = freePort();
    CollectiveException e = assertThrows(CollectiveException.class, () -> ProcessGroups.fromEnvironment(
        Map.of("MASTER_ADDR", "127.0.0.1", "MASTER_PORT", Integer.toString(port), "RANK", "0", "WORLD_SIZE", "3"),
        o));
    assertEquals("rank 0: ranks [1, 2] did not join the rendezvous at 127.0.0.1:" + port + " within PT1S",
        e.getMessage());
  }
}
