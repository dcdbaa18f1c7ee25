package io.sparkformers.accelerate.tcp;

import io.sparkformers.accelerate.CollectiveException;
import io.sparkformers.accelerate.ProcessGroup;
import io.sparkformers.accelerate.ProcessGroupBackend;
import io.sparkformers.accelerate.ProcessGroupOptions;
import io.sparkformers.accelerate.internal.PeerAcceptor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/** The {@code "tcp"} backend: every pair of ranks shares one authenticated TCP connection. */
public final class TcpBackend implements ProcessGroupBackend {
  /** How long one connection may take over its handshake; a silent one is dropped after it. */
  static final Duration HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);

  @Override
  public String name() {
    return "tcp";
  }

  @Override
  public TcpEndpoint listen(int rank, int worldSize, String host, ProcessGroupOptions options) {
    if (worldSize < 1 || rank < 0 || rank >= worldSize) {
      throw new IllegalArgumentException("rank " + rank + " is outside world size " + worldSize);
    }
    try {
      ServerSocketChannel server = ServerSocketChannel.open();
      server.bind(new InetSocketAddress(host, 0), Math.max(64, worldSize));
      return new TcpEndpoint(rank, worldSize, host, server, options);
    } catch (IOException e) {
      throw new UncheckedIOException("rank " + rank + ": cannot listen on " + host, e);
    }
  }

  /** A listening rank; {@link #connect} forms the mesh: connect to lower ranks, accept higher ones. */
  public static final class TcpEndpoint implements Endpoint {
    private final int rank;
    private final int worldSize;
    private final String host;
    private final ServerSocketChannel server;
    private final ProcessGroupOptions options;
    private final String address;
    private volatile boolean closed;
    private PeerAcceptor<Void> acceptor;
    private volatile SocketChannel connecting;

    TcpEndpoint(int rank, int worldSize, String host, ServerSocketChannel server, ProcessGroupOptions options) {
      this.rank = rank;
      this.worldSize = worldSize;
      this.host = host;
      this.server = server;
      this.options = options;
      this.address = host + ":" + server.socket().getLocalPort();
    }

    @Override
    public String address() {
      return address;
    }

    /** Whether this endpoint's listening socket is still open (it closes once the group is complete). */
    boolean isListening() {
      return server.isOpen();
    }

    /** How many connections were refused so far (failed authentication or not our protocol). */
    public synchronized int refusedConnections() {
      return acceptor == null ? 0 : acceptor.refusedConnections();
    }

    @Override
    public ProcessGroup connect(List<String> addresses, byte[] secret) {
      if (addresses.size() != worldSize) {
        throw new IllegalArgumentException("rank " + rank + ": got " + addresses.size()
            + " peer addresses for a world of " + worldSize);
      }
      long deadline = System.nanoTime() + options.timeout().toNanos();
      SocketChannel[] channels = new SocketChannel[worldSize];
      Set<Integer> higher = new TreeSet<>();
      for (int p = rank + 1; p < worldSize; p++) {
        higher.add(p);
      }
      // Higher ranks are accepted concurrently while this rank connects to the lower ones: each connection
      // handshakes on its own thread with a short deadline, so a stranger holds up no one.
      PeerAcceptor<Void> acceptor;
      synchronized (this) {
        if (closed) {
          throw new CollectiveException("rank " + rank + ": the endpoint was closed before the group formed");
        }
        acceptor = new PeerAcceptor<>("rank " + rank, server, higher, HANDSHAKE_TIMEOUT, ch ->
            new PeerAcceptor.Peer<>(Handshake.asAcceptor(ch, rank, worldSize, secret), null));
        this.acceptor = acceptor;
      }
      try {
        for (int peer = 0; peer < rank; peer++) {
          channels[peer] = connectTo(peer, addresses.get(peer), secret, deadline);
        }
        if (!acceptor.await(deadline)) {
          throwIfClosed();
          throw new CollectiveException("rank " + rank + ": ranks " + acceptor.missing()
              + " did not connect within " + options.timeout());
        }
        acceptor.takeAccepted().forEach((peer, a) -> channels[peer] = a.channel());
        acceptor.close();
        TcpProcessGroup group = new TcpProcessGroup(rank, worldSize, channels, options);
        if (options.sharedMemory() && addresses.stream().map(TcpEndpoint::hostOf).distinct().count() == 1) {
          group.setUpSharedMemory();
        }
        return group;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        closeAll(channels, acceptor);
        throw new CollectiveException("rank " + rank + ": interrupted while forming the process group", e);
      } catch (IOException | RuntimeException e) {
        closeAll(channels, acceptor);
        if (closed && !(e instanceof CollectiveException)) {
          throw new CollectiveException("rank " + rank + ": the endpoint was closed while forming the group", e);
        }
        if (e instanceof CollectiveException ce) {
          throw ce;
        }
        throw new CollectiveException("rank " + rank + ": cannot form the process group: " + e, e);
      }
    }

    private void closeAll(SocketChannel[] channels, PeerAcceptor<Void> acceptor) {
      acceptor.close();
      for (SocketChannel c : channels) {
        closeQuietly(c);
      }
      closeQuietly(server);
    }

    private void throwIfClosed() {
      if (closed) {
        throw new CollectiveException("rank " + rank + ": the endpoint was closed before the group formed");
      }
    }

    private SocketChannel connectTo(int peer, String address, byte[] secret, long deadline) throws IOException {
      InetSocketAddress target = parse(peer, address);
      IOException last = null;
      while (System.nanoTime() < deadline) {
        throwIfClosed();
        SocketChannel ch = SocketChannel.open();
        connecting = ch;
        try {
          Socket s = ch.socket();
          s.setSoTimeout(handshakeTimeoutMs(deadline));
          s.connect(target, handshakeTimeoutMs(deadline));
          Handshake.asConnector(ch, rank, peer, worldSize, secret);
          return ch;
        } catch (java.net.ConnectException e) {
          last = e;
          closeQuietly(ch);
          sleep(50);
        } catch (IOException | RuntimeException e) {
          closeQuietly(ch);
          throwIfClosed();
          if (Thread.currentThread().isInterrupted()) {
            throw new CollectiveException("rank " + rank + ": interrupted while connecting to rank " + peer, e);
          }
          throw new CollectiveException("rank " + rank + ": cannot connect to rank " + peer + " at " + address
              + ": " + e.getMessage(), e);
        } finally {
          connecting = null;
        }
      }
      throw new CollectiveException("rank " + rank + ": rank " + peer + " at " + address
          + " did not accept a connection within " + options.timeout()
          + (last == null ? "" : " (" + last.getMessage() + ")"));
    }

    private static int handshakeTimeoutMs(long deadline) {
      long left = (deadline - System.nanoTime()) / 1_000_000;
      return (int) Math.max(1, Math.min(HANDSHAKE_TIMEOUT.toMillis(), left));
    }

    private static String hostOf(String address) {
      int colon = address.lastIndexOf(':');
      return colon > 0 ? address.substring(0, colon) : address;
    }

    private InetSocketAddress parse(int peer, String address) {
      int colon = address.lastIndexOf(':');
      if (colon <= 0) {
        throw new IllegalArgumentException("rank " + peer + "'s address '" + address + "' is not host:port");
      }
      try {
        return new InetSocketAddress(address.substring(0, colon), Integer.parseInt(address.substring(colon + 1)));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("rank " + peer + "'s address '" + address + "' has no numeric port");
      }
    }

    /**
     * Closes the listening socket and, while {@link #connect} runs, every connection it is making or
     * accepting: {@code connect} then fails at once. Safe from any thread (a killed task's watcher calls it).
     */
    @Override
    public void close() {
      PeerAcceptor<Void> a;
      SocketChannel c;
      synchronized (this) {
        closed = true;
        a = acceptor;
        c = connecting;
      }
      closeQuietly(server);
      if (a != null) {
        a.close();
      }
      closeQuietly(c);
    }
  }

  static void closeQuietly(java.io.Closeable c) {
    if (c != null) {
      try {
        c.close();
      } catch (IOException ignored) {
        // closing after a failure: the first error is the one reported
      }
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CollectiveException("interrupted while connecting", e);
    }
  }
}
