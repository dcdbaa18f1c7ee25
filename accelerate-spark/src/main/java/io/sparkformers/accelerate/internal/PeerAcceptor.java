package io.sparkformers.accelerate.internal;

import java.io.Closeable;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Accepts the connections of a known set of peers on a listening socket that anyone may reach. Each
 * connection runs its handshake on its own thread with a short deadline, so a silent or slow stranger holds up
 * nobody; one that fails its handshake (or overstays its deadline) is closed, logged and counted, and accepting
 * goes on. The listening socket is closed as soon as every expected peer is in. {@link #close()} closes the
 * listening socket and every connection not handed over with {@link #takeAccepted()}, which ends every wait.
 *
 * @param <T> what a successful handshake learns about its peer
 */
public final class PeerAcceptor<T> implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(PeerAcceptor.class);
  /** How often the accept loop wakes to drop connections whose handshake overstayed its deadline. */
  private static final int POLL_MILLIS = 200;
  /** Connections in their handshake at once; beyond it, new ones are closed at once (a connection flood). */
  private static final int MAX_PENDING = 64;

  /** A handshake on an accepted connection: returns the peer's slot and what it learnt, or throws to refuse. */
  @FunctionalInterface
  public interface Handshake<T> {
    Peer<T> run(SocketChannel channel) throws Exception;
  }

  /** The slot (usually a rank) a connection claimed and what its handshake learnt. */
  public record Peer<T>(int slot, T value) {}

  /** An accepted peer: its connection (now the caller's) and what its handshake learnt. */
  public record Accepted<T>(SocketChannel channel, T value) {}

  private final String who;
  private final ServerSocketChannel server;
  private final Set<Integer> expected;
  private final long handshakeNanos;
  private final Handshake<T> handshake;
  private final Object lock = new Object();
  private final Map<Integer, Accepted<T>> accepted = new HashMap<>();
  private final Map<SocketChannel, Long> pending = new HashMap<>();
  private final AtomicInteger refused = new AtomicInteger();
  private final Thread acceptor;
  private IOException acceptFailure;
  private boolean closed;
  private boolean taken;

  /**
   * @param who names the acceptor in log lines ("rank 0")
   * @param server a bound listening socket in blocking mode; this acceptor owns it from now on
   * @param expected the slots to fill
   * @param handshakeTimeout how long one connection may take over its handshake
   */
  public PeerAcceptor(String who, ServerSocketChannel server, Set<Integer> expected, Duration handshakeTimeout,
      Handshake<T> handshake) {
    this.who = who;
    this.server = server;
    this.expected = new TreeSet<>(expected);
    this.handshakeNanos = handshakeTimeout.toNanos();
    this.handshake = handshake;
    this.acceptor = new Thread(this::acceptLoop, "sparkformers-accept-" + who.replace(' ', '-'));
    acceptor.setDaemon(true);
    if (this.expected.isEmpty()) {
      closeQuietly(server);
    } else {
      acceptor.start();
    }
  }

  /** How many connections were refused so far (failed or overstayed handshakes, unexpected or repeated slots). */
  public int refusedConnections() {
    return refused.get();
  }

  /**
   * Waits until every expected slot is filled, the deadline ({@link System#nanoTime()}) passes, or this
   * acceptor is closed. Returns whether all are in.
   *
   * @throws InterruptedException when the waiting thread is interrupted (the caller then closes this acceptor)
   * @throws IOException when the listening socket failed
   */
  public boolean await(long deadlineNanos) throws InterruptedException, IOException {
    synchronized (lock) {
      while (accepted.size() < expected.size()) {
        if (acceptFailure != null) {
          throw acceptFailure;
        }
        if (closed) {
          return false;
        }
        long left = deadlineNanos - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        lock.wait(Math.max(1, Math.min(left / 1_000_000, POLL_MILLIS)));
      }
      return true;
    }
  }

  /** The expected slots not filled yet, in order. */
  public List<Integer> missing() {
    synchronized (lock) {
      List<Integer> m = new ArrayList<>();
      for (int s : expected) {
        if (!accepted.containsKey(s)) {
          m.add(s);
        }
      }
      return m;
    }
  }

  /** Hands the accepted connections to the caller, by slot; {@link #close()} no longer closes them. */
  public Map<Integer, Accepted<T>> takeAccepted() {
    synchronized (lock) {
      taken = true;
      return new LinkedHashMap<>(accepted);
    }
  }

  private void acceptLoop() {
    try {
      ServerSocket ss = server.socket();
      ss.setSoTimeout(POLL_MILLIS);
      while (true) {
        synchronized (lock) {
          if (closed || accepted.size() >= expected.size()) {
            return;
          }
          dropOverdue();
        }
        Socket socket;
        try {
          socket = ss.accept();
        } catch (SocketTimeoutException e) {
          continue;
        }
        SocketChannel ch = socket.getChannel();
        synchronized (lock) {
          if (closed) {
            closeQuietly(ch);
            return;
          }
          if (pending.size() >= MAX_PENDING) {
            refuse(ch, describe(ch), "more than " + MAX_PENDING + " connections are in their handshake");
            continue;
          }
          pending.put(ch, System.nanoTime() + handshakeNanos);
        }
        Thread t = new Thread(() -> shake(ch), acceptor.getName() + "-handshake");
        t.setDaemon(true);
        t.start();
      }
    } catch (IOException e) {
      synchronized (lock) {
        if (!closed && accepted.size() < expected.size()) {
          acceptFailure = e;
        }
        lock.notifyAll();
      }
    }
  }

  /** Closes connections whose handshake overstayed its deadline; their handshake threads then fail. */
  private void dropOverdue() {
    long now = System.nanoTime();
    pending.entrySet().removeIf(e -> {
      if (now - e.getValue() > 0) {
        refuse(e.getKey(), describe(e.getKey()), "did not complete the handshake within "
            + Duration.ofNanos(handshakeNanos));
        return true;
      }
      return false;
    });
  }

  private void shake(SocketChannel ch) {
    String from = describe(ch);
    Peer<T> peer;
    try {
      ch.socket().setSoTimeout((int) Math.max(1, handshakeNanos / 1_000_000));
      peer = handshake.run(ch);
    } catch (Exception e) {
      synchronized (lock) {
        // Not pending any more: dropOverdue closed it and reported it already, or this acceptor is closed.
        if (pending.remove(ch) == null) {
          closeQuietly(ch);
          return;
        }
      }
      refuse(ch, from, e instanceof SocketTimeoutException ? "did not complete the handshake within "
          + Duration.ofNanos(handshakeNanos) : String.valueOf(e.getMessage()));
      return;
    }
    synchronized (lock) {
      if (pending.remove(ch) == null) {
        closeQuietly(ch);
        return;
      }
      if (!expected.contains(peer.slot()) || accepted.containsKey(peer.slot())) {
        refuse(ch, from, accepted.containsKey(peer.slot()) ? "rank " + peer.slot() + " is already connected"
            : "rank " + peer.slot() + " is not expected here");
        return;
      }
      accepted.put(peer.slot(), new Accepted<>(ch, peer.value()));
      if (accepted.size() == expected.size()) {
        // Complete: nobody else may connect from now on.
        closeQuietly(server);
      }
      lock.notifyAll();
    }
  }

  private void refuse(SocketChannel ch, String from, String why) {
    refused.incrementAndGet();
    LOG.warn("{}: refused a connection from {}: {}", who, from, why);
    closeQuietly(ch);
  }

  private static String describe(SocketChannel ch) {
    return String.valueOf(ch.socket().getRemoteSocketAddress());
  }

  /** Closes the listening socket, connections in their handshake, and accepted ones not taken. */
  @Override
  public void close() {
    List<Closeable> toClose = new ArrayList<>();
    synchronized (lock) {
      closed = true;
      toClose.add(server);
      toClose.addAll(pending.keySet());
      pending.clear();
      if (!taken) {
        accepted.values().forEach(a -> toClose.add(a.channel()));
      }
      lock.notifyAll();
    }
    toClose.forEach(PeerAcceptor::closeQuietly);
  }

  static void closeQuietly(Closeable c) {
    try {
      c.close();
    } catch (IOException ignored) {
      // closing after the fact: nothing to report
    }
  }
}
