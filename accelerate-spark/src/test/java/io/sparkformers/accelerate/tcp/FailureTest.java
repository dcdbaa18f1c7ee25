package io.sparkformers.accelerate.tcp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkformers.accelerate.CollectiveException;
import io.sparkformers.accelerate.ElementType;
import io.sparkformers.accelerate.ProcessGroup;
import io.sparkformers.accelerate.ProcessGroupOptions;
import io.sparkformers.accelerate.ReduceOp;
import java.io.DataOutputStream;
import java.io.InputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** What happens when ranks misbehave: every rank fails with an error naming the culprit, never a hang. */
class FailureTest {
  private static final ProcessGroupOptions SHORT =
      ProcessGroupOptions.builder().timeout(Duration.ofSeconds(2)).build();
  /** Small all-reduces over the sockets (recursive doubling), not shared memory. */
  private static final ProcessGroupOptions TCP_SHORT = SHORT.toBuilder().sharedMemory(false).build();

  private static ByteBuffer floats(int count) {
    return ByteBuffer.allocateDirect(count * 4).order(ByteOrder.nativeOrder());
  }

  @Test
  void aRankThatDoesNotAnswerFailsTheOthersWithinTheTimeoutNamingIt() throws Exception {
    try (Ranks ranks = Ranks.open(3, TCP_SHORT)) {
      long start = System.nanoTime();
      List<Object> outcomes = ranks.outcomes(pg -> {
        if (pg.rank() == 2) {
          return "stayed away";
        }
        pg.allReduce(floats(100), ElementType.FLOAT32, ReduceOp.SUM);
        return "finished";
      });
      double seconds = (System.nanoTime() - start) / 1e9;
      assertTrue(seconds < 10, "took " + seconds + " s");
      CollectiveException e0 = assertInstanceOf(CollectiveException.class, outcomes.get(0));
      assertTrue(e0.getMessage().contains("rank 0: collective #0 ALL_REDUCE timed out after PT2S waiting for rank"),
          e0.getMessage());
      // In recursive doubling over 3 ranks, rank 0 waits for rank 2's folded data first.
      assertTrue(e0.getMessage().contains("waiting for rank 2"), e0.getMessage());
      assertInstanceOf(CollectiveException.class, outcomes.get(1));
      assertEquals("stayed away", outcomes.get(2));
    }
  }

  @Test
  void aRankThatDiesMidCollectiveFailsTheOthersAtOnce() throws Exception {
    try (Ranks ranks = Ranks.open(2, ProcessGroupOptions.builder().timeout(Duration.ofSeconds(30)).build())) {
      long start = System.nanoTime();
      java.util.concurrent.CountDownLatch gone = new java.util.concurrent.CountDownLatch(1);
      List<Object> outcomes = ranks.outcomes(pg -> {
        if (pg.rank() == 1) {
          // Starts a 64 MiB all-reduce and dies while it waits for rank 0.
          CompletableFuture<Void> f = pg.allReduceAsync(floats(16 << 20), ElementType.FLOAT32, ReduceOp.SUM);
          Thread.sleep(20);
          pg.close();
          gone.countDown();
          return f.handle((v, e) -> "died").get();
        }
        gone.await(); // rank 0 arrives late: rank 1 is gone by then
        pg.allReduce(floats(16 << 20), ElementType.FLOAT32, ReduceOp.SUM);
        return "finished";
      });
      double seconds = (System.nanoTime() - start) / 1e9;
      CollectiveException e0 = assertInstanceOf(CollectiveException.class, outcomes.get(0));
      assertTrue(e0.getMessage().matches("(?s)rank 0: (rank 1 closed its connection|lost the connection to rank 1)"
          + " during collective #0 ALL_REDUCE.*"), e0.getMessage());
      assertTrue(seconds < 10, "rank 0 noticed after " + seconds + " s, not at once");
      // Later calls fail at once, quoting the first failure.
      ProcessGroup pg0 = ranks.groups.get(0);
      CollectiveException again = assertThrows(CollectiveException.class, pg0::barrier);
      assertTrue(again.getMessage().contains("failed earlier"), again.getMessage());
    }
  }

  @Test
  void collectivesIssuedOutOfOrderFailLoudlyOnEveryRank() throws Exception {
    // Over the sockets: the all-gather's header reaches the rank that expects an all-reduce.
    assertEquals("rank 0: collectives issued out of order: rank 1 sent collective #0 ALL_GATHER of 32 bytes, but"
        + " rank 0 expects collective #0 ALL_REDUCE of 32 bytes (every rank must issue the same collectives,"
        + " with the same sizes, in the same order)", outOfOrder(TCP_SHORT, (pg, b) -> pg.allGather(b, floats(16),
        ElementType.FLOAT32)));
    // In shared memory: both announce their collective in their descriptors.
    assertEquals("rank 0: collectives issued out of order: rank 1 runs collective #0 ALL_GATHER of 32 bytes, but"
        + " rank 0 runs collective #0 ALL_REDUCE of 32 bytes (every rank must issue the same collectives,"
        + " with the same sizes, in the same order)", outOfOrder(SHORT, (pg, b) -> pg.allGather(b, floats(16),
        ElementType.FLOAT32)));
    // One in shared memory, the other over the sockets: the waiting rank sees the header of the same collective.
    assertEquals("rank 0: collectives issued out of order: rank 1 sent collective #0 REDUCE_SCATTER of 16 bytes,"
        + " but rank 0 expects collective #0 ALL_REDUCE of 32 bytes (every rank must issue the same collectives,"
        + " with the same sizes, in the same order)", outOfOrder(SHORT, (pg, b) -> pg.reduceScatter(b, floats(4),
        ElementType.FLOAT32, ReduceOp.SUM)));
  }

  private interface Other {
    void issue(ProcessGroup pg, ByteBuffer eightFloats);
  }

  /** Rank 0 all-reduces 8 floats while rank 1 issues {@code other}; returns rank 0's error message. */
  private String outOfOrder(ProcessGroupOptions options, Other other) throws Exception {
    try (Ranks ranks = Ranks.open(2, options)) {
      List<Object> outcomes = ranks.outcomes(pg -> {
        if (pg.rank() == 0) {
          pg.allReduce(floats(8), ElementType.FLOAT32, ReduceOp.SUM);
        } else {
          other.issue(pg, floats(8));
        }
        return "finished";
      });
      assertInstanceOf(CollectiveException.class, outcomes.get(1));
      return assertInstanceOf(CollectiveException.class, outcomes.get(0)).getMessage();
    }
  }

  @Test
  void aRankThatFailsOnAMismatchReleasesAPeerBlockedSendingToIt() throws Exception {
    try (Ranks ranks = Ranks.open(2, ProcessGroupOptions.builder().timeout(Duration.ofSeconds(30)).build())) {
      long start = System.nanoTime();
      List<Object> outcomes = ranks.outcomes(pg -> {
        if (pg.rank() == 0) {
          pg.send(floats(16 << 20), ElementType.FLOAT32, 1); // 64 MiB: more than the sockets buffer
        } else {
          pg.recv(floats(2), ElementType.FLOAT32, 0);
        }
        return "finished";
      });
      double seconds = (System.nanoTime() - start) / 1e9;
      CollectiveException e1 = assertInstanceOf(CollectiveException.class, outcomes.get(1));
      assertTrue(e1.getMessage().contains("rank 0 sent point-to-point message #0 SEND_RECV of 67108864 bytes, but"
          + " rank 1 expects point-to-point message #0 SEND_RECV of 8 bytes"), e1.getMessage());
      CollectiveException e0 = assertInstanceOf(CollectiveException.class, outcomes.get(0));
      assertTrue(e0.getMessage().contains("rank 1"), e0.getMessage());
      assertTrue(seconds < 10, "rank 0 was released after " + seconds + " s, not at once");
    }
  }

  @Test
  void sharedMemoryAllReduceTimesOutNamingTheMissingRankAndChecksSizes() throws Exception {
    try (Ranks ranks = Ranks.open(3, SHORT)) {
      List<Object> outcomes = ranks.outcomes(pg -> {
        if (pg.rank() == 2) {
          return "stayed away";
        }
        pg.allReduce(floats(1 << 18), ElementType.FLOAT32, ReduceOp.SUM);
        return "finished";
      });
      CollectiveException e0 = assertInstanceOf(CollectiveException.class, outcomes.get(0));
      assertEquals("rank 0: collective #0 ALL_REDUCE timed out after 2 s waiting for rank 2 (shared memory); that"
          + " rank is stuck, dead, or issued other collectives", e0.getMessage());
    }
    try (Ranks ranks = Ranks.open(2, SHORT)) {
      List<Object> outcomes = ranks.outcomes(pg -> {
        pg.allReduce(floats(pg.rank() == 0 ? 1 << 18 : 1 << 19), ElementType.FLOAT32, ReduceOp.SUM);
        return "finished";
      });
      CollectiveException e0 = assertInstanceOf(CollectiveException.class, outcomes.get(0));
      assertEquals("rank 0: collectives issued out of order: rank 1 runs collective #0 ALL_REDUCE of 2097152 bytes, but rank 0"
          + " runs collective #0 ALL_REDUCE of 1048576 bytes (every rank must issue the same collectives, with the"
          + " same sizes, in the same order)", e0.getMessage());
    }
  }

  @Test
  void differentSizesOnTwoRanksFailLoudly() throws Exception {
    try (Ranks ranks = Ranks.open(2, TCP_SHORT)) {
      List<Object> outcomes = ranks.outcomes(pg -> {
        pg.allReduce(floats(pg.rank() == 0 ? 8 : 9), ElementType.FLOAT32, ReduceOp.SUM);
        return "finished";
      });
      CollectiveException e0 = assertInstanceOf(CollectiveException.class, outcomes.get(0));
      assertTrue(e0.getMessage().contains("rank 1 sent collective #0 ALL_REDUCE of 36 bytes, but rank 0 expects"
          + " collective #0 ALL_REDUCE of 32 bytes"), e0.getMessage());
    }
  }

  @Test
  void anAbortingRankTellsTheOthersWhy() throws Exception {
    try (Ranks ranks = Ranks.open(3, ProcessGroupOptions.builder().timeout(Duration.ofSeconds(30)).build())) {
      List<Object> outcomes = ranks.outcomes(pg -> {
        if (pg.rank() == 1) {
          pg.abort(new IllegalStateException("out of memory in the data loader"));
          return "aborted";
        }
        pg.allReduce(floats(1000), ElementType.FLOAT32, ReduceOp.SUM);
        return "finished";
      });
      CollectiveException e0 = assertInstanceOf(CollectiveException.class, outcomes.get(0));
      assertTrue(e0.getMessage().matches("(?s)rank 0: (rank 1 aborted during collective #0 ALL_REDUCE: "
          + "java.lang.IllegalStateException: out of memory in the data loader|rank 2 .*)"), e0.getMessage());
      CollectiveException e2 = assertInstanceOf(CollectiveException.class, outcomes.get(2));
      assertTrue(e2.getMessage().contains("rank 1") || e2.getMessage().contains("rank 0"), e2.getMessage());
    }
  }

  @Test
  void badArgumentsAreRejectedBeforeAnythingIsSent() throws Exception {
    try (Ranks ranks = Ranks.open(2, SHORT)) {
      ProcessGroup pg = ranks.groups.get(0);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> pg.allReduce(ByteBuffer.allocateDirect(6), ElementType.FLOAT32, ReduceOp.SUM));
      assertEquals("all-reduce buffer holds 6 bytes, not a whole number of FLOAT32 elements (4 bytes each)",
          e.getMessage());
      e = assertThrows(IllegalArgumentException.class,
          () -> pg.allGather(floats(3), floats(5), ElementType.FLOAT32));
      assertEquals("all-gather output holds 20 bytes; expected 2 x 12 = 24", e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () -> pg.broadcast(floats(3), ElementType.FLOAT32, 2));
      assertEquals("broadcast root rank 2 is outside 0..1", e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () -> pg.send(floats(3), ElementType.FLOAT32, 0));
      assertEquals("send: rank 0 cannot exchange with itself", e.getMessage());
      // The group is still good.
      ranks.run(g -> {
        g.barrier();
        return null;
      });
    }
  }

  @Test
  void strangersAreRefusedAndLoggedAndTheGroupStillForms() throws Exception {
    byte[] secret = new byte[32];
    new SecureRandom().nextBytes(secret);
    byte[] wrongSecret = new byte[32];
    TcpBackend backend = new TcpBackend();
    ProcessGroupOptions options = ProcessGroupOptions.builder().timeout(Duration.ofSeconds(20)).build();
    TcpBackend.TcpEndpoint e0 = backend.listen(0, 2, "127.0.0.1", options);
    TcpBackend.TcpEndpoint e1 = backend.listen(1, 2, "127.0.0.1", options);
    List<String> addresses = List.of(e0.address(), e1.address());
    ExecutorService threads = Executors.newFixedThreadPool(2);
    try {
      Future<ProcessGroup> f0 = threads.submit(() -> e0.connect(addresses, secret));
      String[] hostPort = e0.address().split(":");
      int port = Integer.parseInt(hostPort[1]);
      // A stranger that speaks another protocol.
      try (Socket s = new Socket("127.0.0.1", port)) {
        s.getOutputStream().write("GET / HTTP/1.1\r\n\r\n".getBytes());
        assertEquals(-1, readUntilClosed(s.getInputStream()));
      }
      // A stranger that speaks our protocol but does not know the secret.
      TcpBackend.TcpEndpoint impostor = backend.listen(1, 2, "127.0.0.1", options);
      CollectiveException refused = assertThrows(CollectiveException.class,
          () -> impostor.connect(addresses, wrongSecret));
      assertTrue(refused.getMessage().contains("rank 0 failed authentication"), refused.getMessage());
      // Rank 0 refuses the impostor on its own handshake thread, once it reads the impostor's close: wait for
      // that before the group completes (completion drops handshakes still under way without counting them).
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (e0.refusedConnections() < 2 && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      assertEquals(2, e0.refusedConnections(), "the HTTP stranger and the impostor");
      ProcessGroup pg1 = e1.connect(addresses, secret);
      ProcessGroup pg0 = f0.get(20, TimeUnit.SECONDS);
      CompletableFuture<Void> b = pg1.barrierAsync();
      pg0.barrier();
      b.join();
      pg0.close();
      pg1.close();
    } finally {
      threads.shutdownNow();
    }
  }

  @Test
  void anImpostorThatPassesTheFirstCheckIsRefusedByTheSecondProof() throws Exception {
    // The impostor knows the protocol and answers the acceptor's challenge with a wrong secret's MAC.
    byte[] secret = new byte[32];
    new SecureRandom().nextBytes(secret);
    TcpBackend.TcpEndpoint e0 = new TcpBackend().listen(0, 2, "127.0.0.1", SHORT);
    ExecutorService threads = Executors.newSingleThreadExecutor();
    try {
      Future<Object> f0 = threads.submit(() -> {
        try {
          return e0.connect(List.of(e0.address(), "127.0.0.1:1"), secret);
        } catch (CollectiveException e) {
          return e;
        }
      });
      int port = Integer.parseInt(e0.address().split(":")[1]);
      try (Socket s = new Socket("127.0.0.1", port)) {
        DataOutputStream out = new DataOutputStream(s.getOutputStream());
        out.writeInt(Handshake.MAGIC);
        out.writeInt(Handshake.VERSION);
        out.writeInt(1);
        out.writeInt(2);
        out.write(new byte[16]);
        out.flush();
        s.getInputStream().readNBytes(52);
        out.write(new byte[32]); // not the MAC of the acceptor's nonce
        out.flush();
        assertEquals(-1, readUntilClosed(s.getInputStream()));
      }
      CollectiveException e = assertInstanceOf(CollectiveException.class, f0.get(20, TimeUnit.SECONDS));
      assertEquals("rank 0: ranks [1] did not connect within PT2S", e.getMessage());
      assertEquals(1, e0.refusedConnections());
    } finally {
      threads.shutdownNow();
    }
  }

  private static int readUntilClosed(InputStream in) throws Exception {
    try {
      while (in.read() != -1) {
        // drain
      }
    } catch (java.net.SocketException reset) {
      // closed with our bytes unread: a reset is a refusal too
    }
    return -1;
  }
}
