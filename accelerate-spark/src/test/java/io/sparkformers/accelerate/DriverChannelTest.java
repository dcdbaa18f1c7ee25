package io.sparkformers.accelerate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The driver channel over real sockets on 127.0.0.1: delivery, authentication, bad endpoints, lost links. */
class DriverChannelTest {

  @Test
  void messagesOfARankArriveInOrderAndCloseWaitsForTheLastOnes() throws Exception {
    List<String> got = Collections.synchronizedList(new ArrayList<>());
    try (DriverChannel channel = DriverChannel.open("127.0.0.1", 2, (rank, m) -> got.add(rank + ":" + m))) {
      try (DriverChannel.Sender s = DriverChannel.connect(channel.endpoint(), 1)) {
        for (int i = 0; i < 500; i++) {
          assertTrue(s.send("event " + i + " é"));
        }
      } // close() sends what is queued
      channel.close(); // and the driver reads until the rank's end of stream
      assertEquals(500, got.size());
      for (int i = 0; i < 500; i++) {
        assertEquals("1:event " + i + " é", got.get(i));
      }
    }
  }

  @Test
  void aRankWithAnotherSecretIsRefusedAndDeliversNothing() {
    List<String> got = Collections.synchronizedList(new ArrayList<>());
    try (DriverChannel channel = DriverChannel.open("127.0.0.1", 2, (rank, m) -> got.add(m))) {
      String endpoint = channel.endpoint();
      String forged = endpoint.substring(0, endpoint.indexOf('/', endpoint.indexOf('/') + 1) + 1)
          + Base64.getUrlEncoder().withoutPadding().encodeToString(new byte[32]);
      assertFalse(endpoint.substring(endpoint.indexOf('/', endpoint.indexOf('/') + 1) + 1).contains("/"));
      IOException e = assertThrows(IOException.class, () -> DriverChannel.connect(forged, 0));
      assertTrue(e.getMessage().contains("failed authentication"), e.getMessage());
    }
    assertEquals(List.of(), got);
  }

  @Test
  void malformedEndpointsAndRanksOutsideTheWorldAreNamed() {
    IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
        () -> DriverChannel.connect("127.0.0.1/2/abc", 0));
    assertEquals("driver channel endpoint '127.0.0.1/2/<secret>': expected host:port/worldSize/secret",
        bad.getMessage());
    IllegalArgumentException port = assertThrows(IllegalArgumentException.class,
        () -> DriverChannel.connect("127.0.0.1:x/2/abc", 0));
    assertTrue(port.getMessage().startsWith("driver channel endpoint '127.0.0.1:x/2/<secret>': expected"),
        port.getMessage());
    IllegalArgumentException secret = assertThrows(IllegalArgumentException.class,
        () -> DriverChannel.connect("127.0.0.1:1/2/a/b+c", 0));
    assertFalse(secret.getMessage().contains("b+c"), "the secret leaks into the message: " + secret.getMessage());
    try (DriverChannel channel = DriverChannel.open("127.0.0.1", 2, (rank, m) -> { })) {
      IllegalArgumentException rank = assertThrows(IllegalArgumentException.class,
          () -> DriverChannel.connect(channel.endpoint(), 2));
      assertEquals("rank 2 is outside the driver channel's world of 2 ranks", rank.getMessage());
    }
    assertThrows(IllegalArgumentException.class, () -> DriverChannel.open("127.0.0.1", 0, (r, m) -> { }));
  }

  @Test
  void aLostDriverNeverFailsTheSender() throws Exception {
    DriverChannel channel = DriverChannel.open("127.0.0.1", 1, (rank, m) -> { });
    try (DriverChannel.Sender s = DriverChannel.connect(channel.endpoint(), 0)) {
      assertTrue(s.send("before"));
      Thread closer = new Thread(channel::close); // the driver goes away (it waits for the rank, then cuts)
      closer.start();
      closer.join(20_000);
      assertFalse(closer.isAlive());
      long deadline = System.nanoTime() + 20_000_000_000L;
      while (!s.isBroken() && System.nanoTime() < deadline) {
        s.send("x".repeat(1 << 16)); // never throws; fails once the connection is found gone
        Thread.sleep(5);
      }
      assertTrue(s.isBroken(), "the sender did not notice the lost connection");
      assertFalse(s.send("after"));
    }
  }

  @Test
  void outsideASparkTaskThereIsNoSender() {
    assertTrue(DriverChannel.senderForThisTask(0).isEmpty());
  }
}
