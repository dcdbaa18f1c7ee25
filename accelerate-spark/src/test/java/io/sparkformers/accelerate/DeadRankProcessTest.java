package io.sparkformers.accelerate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A rank that really dies: rank 2 is a separate JVM (environment rendezvous), killed with
 * {@link Process#destroyForcibly} while the ranks all-reduce in a loop. Ranks 0 and 1 (threads here) must fail
 * well within their timeout, with an error that names rank 2: over the sockets (the TCP ring), and over shared
 * memory with plain and with registered buffers.
 */
class DeadRankProcessTest {
  private static final int TIMEOUT_SECONDS = 60;
  private static final int BYTES = 4 << 20;

  @ParameterizedTest
  @CsvSource({"false, plain", "true, plain", "true, registered"})
  void survivorsFailSoonNamingTheKilledRank(boolean sharedMemory, String buffers) throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    Map<String, String> env = new HashMap<>();
    env.put("MASTER_ADDR", "127.0.0.1");
    env.put("MASTER_PORT", Integer.toString(port));
    env.put("WORLD_SIZE", "3");
    String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
    ProcessBuilder pb = new ProcessBuilder(java, "-Xmx64m", "-XX:+UseSerialGC", "-cp",
        System.getProperty("java.class.path"), RankProcessMain.class.getName(), Integer.toString(BYTES), buffers,
        Boolean.toString(sharedMemory), Integer.toString(TIMEOUT_SECONDS));
    pb.environment().putAll(env);
    pb.environment().put("RANK", "2");
    pb.redirectError(ProcessBuilder.Redirect.INHERIT);
    ProcessGroupOptions options = ProcessGroupOptions.builder().sharedMemory(sharedMemory)
        .timeout(Duration.ofSeconds(TIMEOUT_SECONDS)).build();
    ExecutorService threads = Executors.newFixedThreadPool(2);
    Process child = pb.start();
    try {
      List<Future<Object>> survivors = new ArrayList<>();
      long[] failedAt = new long[2];
      for (int r = 0; r < 2; r++) {
        Map<String, String> mine = new HashMap<>(env);
        mine.put("RANK", Integer.toString(r));
        int rank = r;
        survivors.add(threads.submit(() -> {
          try (ProcessGroup pg = ProcessGroups.fromEnvironment(mine, options)) {
            ByteBuffer b = buffers.equals("registered") ? pg.allocate(BYTES)
                : ByteBuffer.allocateDirect(BYTES).order(ByteOrder.nativeOrder());
            assertEquals(buffers.equals("registered"), pg.isRegistered(b));
            while (true) {
              pg.allReduce(b, ElementType.FLOAT32, ReduceOp.SUM);
            }
          } catch (RuntimeException e) {
            failedAt[rank] = System.nanoTime();
            return e;
          }
        }));
      }
      // Kill rank 2 once the group has run a few all-reduces: it dies inside one (they run back to back).
      BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
      for (String line; (line = out.readLine()) != null && !line.equals("iteration 5"); ) {
        // rank 2 is still warming up
      }
      child.destroyForcibly();
      long killedAt = System.nanoTime();
      for (int r = 0; r < 2; r++) {
        Object outcome = survivors.get(r).get(TIMEOUT_SECONDS + 30, TimeUnit.SECONDS);
        CollectiveException e = assertInstanceOf(CollectiveException.class, outcome);
        System.out.printf("shared memory %s, %s buffers: rank %d failed %.3f s after the kill: %s%n", sharedMemory,
            buffers, r, (failedAt[r] - killedAt) / 1e9, e.getMessage());
        // Either it saw rank 2's connection end, or the other survivor's abort quoting that.
        assertTrue(e.getMessage().matches("(?s)rank " + r + ": .*(rank 2 closed its connection|lost the connection to"
            + " rank 2).*"), e.getMessage());
        double seconds = (failedAt[r] - killedAt) / 1e9;
        assertTrue(seconds < TIMEOUT_SECONDS / 4.0, "rank " + r + " failed " + seconds + " s after the kill");
      }
    } finally {
      child.destroyForcibly();
      threads.shutdownNow();
    }
  }
}
