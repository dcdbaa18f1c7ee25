package io.sparkformers.accelerate.tcp;

import io.sparkformers.accelerate.CollectiveException;
import io.sparkformers.accelerate.ProcessGroup;
import io.sparkformers.accelerate.ProcessGroupBackend;
import io.sparkformers.accelerate.ProcessGroupOptions;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The {@code "tcp"} backend: every pair of ranks shares one authenticated TCP connection. */
public final class TcpBackend implements ProcessGroupBackend {
  private static final Logger LOG = LoggerFactory.getLogger(TcpBackend.class);

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
    private final AtomicInteger refused = new AtomicInteger();

    TcpEndpoint(int rank, int worldSize, String host, ServerSocketChannel server, ProcessGroupOptions options) {
      this.rank = rank;
      this.worldSize = worldSize;
      this.host = host;
      this.server = server;
      this.options = options;
    }

    @Override
    public String address() {
      return host + ":" + server.socket().getLocalPort();
    }

    /** How many connections were refused so far (failed authentication or not our protocol). */
    public int refusedConnections() {
      return refused.get();
    }

    @Override
    public ProcessGroup connect(List<String> addresses, byte[] secret) {
      if (addresses.size() != worldSize) {
        throw new IllegalArgumentException("rank " + rank + ": got " + addresses.size()
            + " peer addresses for a world of " + worldSize);
      }
      long deadline = System.nanoTime() + options.timeout().toNanos();
      SocketChannel[] channels = new SocketChannel[worldSize];
      try {
        for (int peer = 0; peer < rank; peer++) {
          channels[peer] = connectTo(peer, addresses.get(peer), secret, deadline);
        }
        acceptHigherRanks(channels, secret, deadline);
        server.close();
        TcpProcessGroup group = new TcpProcessGroup(rank, worldSize, channels, options);
        if (options.sharedMemory() && addresses.stream().map(TcpEndpoint::hostOf).distinct().count() == 1) {
          group.setUpSharedMemory();
        }
        return group;
      } catch (IOException | RuntimeException e) {
        for (SocketChannel c : channels) {
          closeQuietly(c);
        }
        closeQuietly(server);
        if (e instanceof CollectiveException ce) {
          throw ce;
        }
        throw new CollectiveException("rank " + rank + ": cannot form the process group: " + e, e);
      }
    }

    private SocketChannel connectTo(int peer, String address, byte[] secret, long deadline) throws IOException {
      InetSocketAddress target = parse(peer, address);
      IOException last = null;
      while (System.nanoTime() < deadline) {
        SocketChannel ch = SocketChannel.open();
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
          throw new CollectiveException("rank " + rank + ": cannot connect to rank " + peer + " at " + address
              + ": " + e.getMessage(), e);
        }
      }
      throw new CollectiveException("rank " + rank + ": rank " + peer + " at " + address
          + " did not accept a connection within " + options.timeout()
          + (last == null ? "" : " (" + last.getMessage() + ")"));
    }

    private void acceptHigherRanks(SocketChannel[] channels, byte[] secret, long deadline) throws IOException {
      int missing = worldSize - 1 - rank;
      ServerSocket ss = server.socket();
      while (missing > 0) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new CollectiveException("rank " + rank + ": ranks " + missingRanks(channels)
              + " did not connect within " + options.timeout());
        }
        ss.setSoTimeout((int) Math.max(1, Math.min(Integer.MAX_VALUE, left / 1_000_000)));
        Socket socket;
        try {
          socket = ss.accept();
        } catch (SocketTimeoutException e) {
          continue;
        }
        SocketChannel ch = socket.getChannel();
        String from = String.valueOf(socket.getRemoteSocketAddress());
        try {
          socket.setSoTimeout(handshakeTimeoutMs(deadline));
          int peer = Handshake.asAcceptor(ch, rank, worldSize, secret);
          if (channels[peer] != null) {
            throw new Handshake.Refused("rank " + peer + " is already connected");
          }
          channels[peer] = ch;
          missing--;
        } catch (Handshake.Refused | IOException e) {
          refused.incrementAndGet();
          LOG.warn("rank {}: refused a connection from {}: {}", rank, from, e.getMessage());
          closeQuietly(ch);
        }
      }
    }

    private List<Integer> missingRanks(SocketChannel[] channels) {
      List<Integer> missing = new ArrayList<>();
      for (int p = rank + 1; p < worldSize; p++) {
        if (channels[p] == null) {
          missing.add(p);
        }
      }
      return missing;
    }

    private static int handshakeTimeoutMs(long deadline) {
      long left = (deadline - System.nanoTime()) / 1_000_000;
      // A stranger that connects and says nothing must not hold up the peers for long.
      return (int) Math.max(1, Math.min(10_000, left));
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

    @Override
    public void close() {
      closeQuietly(server);
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
