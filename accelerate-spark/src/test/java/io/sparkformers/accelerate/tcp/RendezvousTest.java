package io.sparkformers.accelerate.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkformers.accelerate.CollectiveException;
import io.sparkformers.accelerate.ElementType;
import io.sparkformers.accelerate.ProcessGroup;
import io.sparkformers.accelerate.ProcessGroupOptions;
import io.sparkformers.accelerate.ReduceOp;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Forming a group over real sockets while strangers connect, and leaving every wait at once when the rank is
 * told to stop; the watchdog's lines while a collective waits.
 */
class RendezvousTest {
  private static final ProcessGroupOptions LONG = ProcessGroupOptions.builder().timeout(Duration.ofSeconds(60))
      .build();

  private static byte[] secret() {
    byte[] s = new byte[32];
    new SecureRandom().nextBytes(s);
    return s;
  }

  private static int port(TcpBackend.TcpEndpoint e) {
    return Integer.parseInt(e.address().substring(e.address().lastIndexOf(':') + 1));
  }

  @Test
  void aSilentStrangerHeldOpenDuringRendezvousDoesNotStallTheGroup() throws Exception {
    byte[] secret = secret();
    TcpBackend backend = new TcpBackend();
    List<TcpBackend.TcpEndpoint> endpoints = new ArrayList<>();
    List<String> addresses = new ArrayList<>();
    for (int r = 0; r < 3; r++) {
      endpoints.add(backend.listen(r, 3, "127.0.0.1", LONG));
      addresses.add(endpoints.get(r).address());
    }
    ExecutorService threads = Executors.newFixedThreadPool(3);
    // Connected before any rank, and silent for the whole test: it takes rank 0's first accept.
    try (Socket silent = new Socket("127.0.0.1", port(endpoints.get(0)))) {
      long start = System.nanoTime();
      List<Future<ProcessGroup>> fs = new ArrayList<>();
      for (TcpBackend.TcpEndpoint e : endpoints) {
        fs.add(threads.submit(() -> e.connect(addresses, secret)));
      }
      List<ProcessGroup> groups = new ArrayList<>();
      for (Future<ProcessGroup> f : fs) {
        groups.add(f.get(60, TimeUnit.SECONDS));
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      // A handshake may take 10 s before a silent connection is dropped: the group must not wait for that.
      assertTrue(seconds < 9, "the group took " + seconds + " s to form");
      // Complete: no rank listens any more, so nobody else can connect.
      for (TcpBackend.TcpEndpoint e : endpoints) {
        assertFalse(e.isListening(), e.address());
      }
      List<Future<Float>> sums = new ArrayList<>();
      for (ProcessGroup pg : groups) {
        sums.add(threads.submit(() -> {
          ByteBuffer b = ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder()).putFloat(0, pg.rank() + 1);
          pg.allReduce(b, ElementType.FLOAT32, ReduceOp.SUM);
          return b.getFloat(0);
        }));
      }
      for (Future<Float> s : sums) {
        assertEquals(6f, s.get(60, TimeUnit.SECONDS));
      }
      groups.forEach(ProcessGroup::close);
    } finally {
      threads.shutdownNow();
    }
  }

  @Test
  void anInterruptEndsAWaitForPeersAtOnceAndClosesThePort() throws Exception {
    TcpBackend.TcpEndpoint e0 = new TcpBackend().listen(0, 2, "127.0.0.1", LONG);
    AtomicReference<Throwable> outcome = new AtomicReference<>();
    Thread rank0 = new Thread(() -> {
      try {
        e0.connect(List.of(e0.address(), "127.0.0.1:1"), secret());
      } catch (Throwable t) {
        outcome.set(t);
      }
    });
    rank0.start();
    awaitWaiting(rank0);
    long start = System.nanoTime();
    rank0.interrupt();
    rank0.join(10_000);
    double seconds = (System.nanoTime() - start) / 1e9;
    assertTrue(seconds < 5, "the interrupted rank took " + seconds + " s to stop waiting");
    CollectiveException e = assertInstanceOf(CollectiveException.class, outcome.get());
    assertEquals("rank 0: interrupted while forming the process group", e.getMessage());
    assertFalse(e0.isListening());
  }

  @Test
  void closingTheEndpointFromAnotherThreadEndsAConnectThatWaits() throws Exception {
    // Rank 1 waits to connect to a rank 0 that never listens; a killed task's watcher closes the endpoint.
    TcpBackend.TcpEndpoint e1 = new TcpBackend().listen(1, 2, "127.0.0.1", LONG);
    int unused;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
      unused = s.getLocalPort();
    }
    List<String> addresses = List.of("127.0.0.1:" + unused, e1.address());
    AtomicReference<Throwable> outcome = new AtomicReference<>();
    Thread rank1 = new Thread(() -> {
      try {
        e1.connect(addresses, secret());
      } catch (Throwable t) {
        outcome.set(t);
      }
    });
    rank1.start();
    awaitWaiting(rank1);
    e1.close();
    rank1.join(10_000);
    CollectiveException e = assertInstanceOf(CollectiveException.class, outcome.get());
    assertTrue(e.getMessage().startsWith("rank 1: the endpoint was closed"), e.getMessage());
  }

  @Test
  void aWaitingRankSaysWhichRankItWaitsForAndTheTimeoutNamesIt() throws Exception {
    for (boolean sharedMemory : new boolean[] {false, true}) {
      ProcessGroupOptions options = ProcessGroupOptions.builder().timeout(Duration.ofSeconds(3))
          .sharedMemory(sharedMemory).build();
      try (LogCapture log = LogCapture.of(Watchdog.class); Ranks ranks = Ranks.open(2, options)) {
        List<Object> outcomes = ranks.outcomes(pg -> {
          if (pg.rank() == 1) {
            return "stayed away";
          }
          ByteBuffer b = ByteBuffer.allocateDirect(64).order(ByteOrder.nativeOrder());
          pg.allReduce(b, ElementType.FLOAT32, ReduceOp.SUM);
          return "finished";
        });
        CollectiveException e = assertInstanceOf(CollectiveException.class, outcomes.get(0));
        assertEquals(List.of(1), e.unresponsiveRanks(), e.getMessage());
        assertTrue(e.getMessage().contains("timed out after") && e.getMessage().contains("waiting for rank 1"),
            e.getMessage());
        // A 3 s timeout: a line every second (the shortest interval), so two before the timeout fires.
        Pattern line = Pattern.compile("rank 0: waiting [12] s for rank 1 in collective #0 ALL_REDUCE \\(it fails"
            + " after 3 s: ddp_timeout\\)");
        List<String> lines = log.messages();
        assertTrue(lines.stream().filter(l -> line.matcher(l).matches()).count() >= 1,
            "shared memory " + sharedMemory + ": " + lines);
      }
    }
  }

  @Test
  void anInterruptedRankLeavesACollectiveAtOnceInsteadOfSpinningToTheTimeout() throws Exception {
    for (boolean sharedMemory : new boolean[] {false, true}) {
      try (Ranks ranks = Ranks.open(2, LONG.toBuilder().sharedMemory(sharedMemory).build())) {
        long start = System.nanoTime();
        List<Object> outcomes = ranks.outcomes(pg -> {
          if (pg.rank() == 1) {
            return "never joins";
          }
          // Interrupted as it enters (an interrupt that arrives while it waits is the same to a selector or
          // a park: both return at once from then on).
          Thread.currentThread().interrupt();
          pg.allReduce(ByteBuffer.allocateDirect(64).order(ByteOrder.nativeOrder()), ElementType.FLOAT32,
              ReduceOp.SUM);
          return "finished";
        });
        double seconds = (System.nanoTime() - start) / 1e9;
        assertTrue(seconds < 10, "shared memory " + sharedMemory + ": took " + seconds + " s (the timeout is 60 s)");
        CollectiveException e = assertInstanceOf(CollectiveException.class, outcomes.get(0));
        assertTrue(e.getMessage().startsWith("rank 0: interrupted during collective #0"), e.getMessage());
      }
    }
  }

  @Test
  void theWatchdogIntervalIsASixthOfTheTimeoutBetweenOneSecondAndAMinute() {
    assertEquals(Duration.ofSeconds(1), Watchdog.interval(Duration.ofSeconds(3)));
    assertEquals(Duration.ofSeconds(10), Watchdog.interval(Duration.ofSeconds(60)));
    assertEquals(Duration.ofSeconds(60), Watchdog.interval(Duration.ofSeconds(1800)));
  }

  /** Waits until {@code t} blocks (in a wait for its peers). */
  private static void awaitWaiting(Thread t) throws InterruptedException {
    long deadline = System.nanoTime() + 30_000_000_000L;
    while (t.getState() != Thread.State.TIMED_WAITING && t.getState() != Thread.State.WAITING
        && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertTrue(t.isAlive(), "the rank ended before it waited");
  }
}
