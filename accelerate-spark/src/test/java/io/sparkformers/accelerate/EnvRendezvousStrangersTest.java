package io.sparkformers.accelerate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ConnectException;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The torchrun-style rendezvous on MASTER_PORT, which anyone on the network can reach, with strangers on it. */
class EnvRendezvousStrangersTest {
  @Test
  void aSilentStrangerAndOneSpeakingAnotherProtocolNeitherStallNorFailTheRendezvous() throws Exception {
    int port = AcceleratorTest.freePort();
    ProcessGroupOptions options = ProcessGroupOptions.builder().timeout(Duration.ofSeconds(60)).build();
    ExecutorService threads = Executors.newFixedThreadPool(3);
    List<Future<ProcessGroup>> fs = new ArrayList<>();
    try {
      fs.add(threads.submit(() -> ProcessGroups.fromEnvironment(env(port, 0), options)));
      try (Socket silent = connectWhenListening(port); Socket http = new Socket("127.0.0.1", port)) {
        http.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes());
        long start = System.nanoTime();
        for (int r = 1; r < 3; r++) {
          int rank = r;
          fs.add(threads.submit(() -> ProcessGroups.fromEnvironment(env(port, rank), options)));
        }
        List<ProcessGroup> groups = new ArrayList<>();
        for (Future<ProcessGroup> f : fs) {
          groups.add(f.get(60, TimeUnit.SECONDS));
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        // The silent one would hold a one-at-a-time rendezvous for its 10 s hello deadline.
        assertTrue(seconds < 9, "the rendezvous took " + seconds + " s");
        List<Future<Long>> sums = new ArrayList<>();
        for (ProcessGroup pg : groups) {
          sums.add(threads.submit(() -> {
            ByteBuffer b = ByteBuffer.allocateDirect(8).order(ByteOrder.nativeOrder()).putLong(0, pg.rank() + 1);
            pg.allReduce(b, ElementType.INT64, ReduceOp.SUM);
            return b.getLong(0);
          }));
        }
        for (Future<Long> s : sums) {
          assertEquals(6L, s.get(60, TimeUnit.SECONDS));
        }
        groups.forEach(ProcessGroup::close);
      }
    } finally {
      threads.shutdownNow();
    }
  }

  private static Map<String, String> env(int port, int rank) {
    return Map.of("MASTER_ADDR", "127.0.0.1", "MASTER_PORT", Integer.toString(port), "RANK",
        Integer.toString(rank), "WORLD_SIZE", "3");
  }

  /** Connects once rank 0 listens (it binds the port when its thread gets there). */
  private static Socket connectWhenListening(int port) throws Exception {
    long deadline = System.nanoTime() + 30_000_000_000L;
    while (true) {
      try {
        return new Socket("127.0.0.1", port);
      } catch (ConnectException e) {
        if (System.nanoTime() > deadline) {
          throw e;
        }
        Thread.sleep(20);
      }
    }
  }
}
