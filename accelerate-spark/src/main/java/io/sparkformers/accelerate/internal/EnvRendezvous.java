package io.sparkformers.accelerate.internal;

import io.sparkformers.accelerate.CollectiveException;
import io.sparkformers.accelerate.ProcessGroup;
import io.sparkformers.accelerate.DeviceSelection;
import io.sparkformers.accelerate.ProcessGroupBackend;
import io.sparkformers.accelerate.ProcessGroupOptions;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.UnknownHostException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Rendezvous without Spark, from the variables torchrun sets: MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE.
 * Rank 0 listens on MASTER_ADDR:MASTER_PORT; every other rank connects there and sends its rank and its
 * endpoint's address; rank 0 answers each with every rank's address and the run's secret. The secret is
 * taken from SPARKFORMERS_SECRET (base64) when set, so that it never crosses this unauthenticated
 * connection; without it rank 0 draws one and hands it out, which is only allowed when MASTER_ADDR is a loopback
 * address (every rank on this host, the secret never leaves it): elsewhere the rendezvous refuses to start.
 */
public final class EnvRendezvous {
  private static final int MAGIC = 0x53465256; // "SFRV"
  /** How long a connection to the rendezvous may take to say hello before it is dropped. */
  private static final Duration HELLO_TIMEOUT = Duration.ofSeconds(10);

  private EnvRendezvous() {}

  public static ProcessGroup open(Map<String, String> env, ProcessGroupOptions options) {
    String host = require(env, "MASTER_ADDR");
    int port = intVar(env, "MASTER_PORT", 1, 65535);
    int worldSize = intVar(env, "WORLD_SIZE", 1, Integer.MAX_VALUE);
    int rank = intVar(env, "RANK", 0, worldSize - 1);
    String secretVar = env.get("SPARKFORMERS_SECRET");
    byte[] secret = null;
    if (secretVar != null) {
      try {
        secret = Base64.getDecoder().decode(secretVar.trim());
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("environment variable SPARKFORMERS_SECRET is not base64: "
            + e.getMessage());
      }
      if (secret.length == 0) {
        throw new IllegalArgumentException("environment variable SPARKFORMERS_SECRET is empty");
      }
    }
    if (worldSize == 1) {
      return new SingleRankProcessGroup();
    }
    if (secret == null && !isLoopback(host)) {
      throw new IllegalArgumentException("environment variable SPARKFORMERS_SECRET is not set, and MASTER_ADDR="
          + host + " is not a loopback address: without it the rendezvous would send the run's secret over the"
          + " network in the clear. Set SPARKFORMERS_SECRET to the same base64 value on every rank (for example"
          + " the output of 'openssl rand -base64 32')");
    }
    ProcessGroupBackend backend = Backends.named(DeviceSelection.chooseBackend(options.backend(),
        options.cudaDevice() >= 0 ? ai.djl.Device.gpu(options.cudaDevice()) : ai.djl.Device.cpu()));
    ProcessGroupBackend.Endpoint endpoint = backend.listen(rank, worldSize, host, options);
    try {
      long deadline = System.nanoTime() + options.timeout().toNanos();
      Exchange ex = rank == 0
          ? serve(host, port, worldSize, endpoint.address(), secret, deadline, options)
          : join(host, port, rank, worldSize, endpoint.address(), deadline, options);
      return endpoint.connect(ex.addresses, secret != null ? secret : ex.secret);
    } catch (IOException e) {
      endpoint.close();
      throw new CollectiveException("rank " + rank + ": rendezvous at " + host + ":" + port + " failed: " + e, e);
    } catch (RuntimeException e) {
      endpoint.close();
      throw e;
    }
  }

  private record Exchange(List<String> addresses, byte[] secret) {}

  private static Exchange serve(String host, int port, int worldSize, String ownAddress, byte[] fixedSecret,
      long deadline, ProcessGroupOptions options) throws IOException {
    byte[] secret = fixedSecret;
    if (secret == null) {
      secret = new byte[32];
      new SecureRandom().nextBytes(secret);
    }
    String[] addresses = new String[worldSize];
    addresses[0] = ownAddress;
    Set<Integer> others = new TreeSet<>();
    for (int r = 1; r < worldSize; r++) {
      others.add(r);
    }
    ServerSocketChannel server = ServerSocketChannel.open();
    Map<Integer, PeerAcceptor.Accepted<String>> joined = Map.of();
    // Each connection says hello on its own thread with a short deadline: a stranger that connects and stays
    // silent, or speaks another protocol, is dropped without holding up the ranks.
    try (PeerAcceptor<String> acceptor = new PeerAcceptor<>("rank 0", bind(server, host, port, worldSize), others,
        HELLO_TIMEOUT, ch -> hello(ch, worldSize))) {
      boolean complete;
      try {
        complete = acceptor.await(deadline);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new CollectiveException("rank 0: interrupted while waiting for the ranks to join the rendezvous", e);
      }
      if (!complete) {
        throw new CollectiveException("rank 0: ranks " + acceptor.missing() + " did not join the rendezvous at "
            + host + ":" + port + " within " + options.timeout());
      }
      joined = acceptor.takeAccepted();
      joined.forEach((r, a) -> addresses[r] = a.value());
      for (PeerAcceptor.Accepted<String> a : joined.values()) {
        SocketChannel ch = a.channel();
        DataOutputStream out = new DataOutputStream(ch.socket().getOutputStream());
        for (String address : addresses) {
          out.writeUTF(address);
        }
        out.writeInt(fixedSecret == null ? secret.length : 0);
        if (fixedSecret == null) {
          out.write(secret);
        }
        out.flush();
      }
    } finally {
      server.close();
      for (PeerAcceptor.Accepted<String> a : joined.values()) {
        a.channel().close();
      }
    }
    return new Exchange(Arrays.asList(addresses), secret);
  }

  private static ServerSocketChannel bind(ServerSocketChannel server, String host, int port, int worldSize)
      throws IOException {
    try {
      server.setOption(java.net.StandardSocketOptions.SO_REUSEADDR, true);
      server.bind(new InetSocketAddress(host, port), Math.max(64, worldSize));
      return server;
    } catch (IOException | RuntimeException e) {
      server.close();
      throw e;
    }
  }

  /** Reads a joining rank's hello: magic, rank, world size, its endpoint's address. */
  private static PeerAcceptor.Peer<String> hello(SocketChannel ch, int worldSize) throws IOException {
    DataInputStream in = new DataInputStream(ch.socket().getInputStream());
    int magic = in.readInt();
    if (magic != MAGIC) {
      throw new IOException(String.format("not a sparkformers rank (first bytes 0x%08x)", magic));
    }
    int r = in.readInt();
    int w = in.readInt();
    String address = in.readUTF();
    if (w != worldSize || r < 1 || r >= worldSize) {
      throw new IOException("joined as rank " + r + " of " + w + "; expected a rank in 1.." + (worldSize - 1)
          + " of WORLD_SIZE=" + worldSize);
    }
    return new PeerAcceptor.Peer<>(r, address);
  }

  private static Exchange join(String host, int port, int rank, int worldSize, String ownAddress, long deadline,
      ProcessGroupOptions options) throws IOException {
    IOException last = null;
    while (System.nanoTime() < deadline) {
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress(host, port), 5_000);
        long left = Math.max(1, (deadline - System.nanoTime()) / 1_000_000);
        s.setSoTimeout((int) Math.min(Integer.MAX_VALUE, left));
        DataOutputStream out = new DataOutputStream(s.getOutputStream());
        out.writeInt(MAGIC);
        out.writeInt(rank);
        out.writeInt(worldSize);
        out.writeUTF(ownAddress);
        out.flush();
        DataInputStream in = new DataInputStream(s.getInputStream());
        List<String> addresses = new ArrayList<>();
        for (int r = 0; r < worldSize; r++) {
          addresses.add(in.readUTF());
        }
        byte[] secret = new byte[in.readInt()];
        in.readFully(secret);
        return new Exchange(addresses, secret);
      } catch (java.net.ConnectException e) {
        last = e; // rank 0 is not listening yet
        try {
          Thread.sleep(50);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw new CollectiveException("rank " + rank + ": interrupted while joining the rendezvous", ie);
        }
      }
    }
    throw new CollectiveException("rank " + rank + ": rank 0 did not open the rendezvous at " + host + ":" + port
        + " within " + options.timeout() + (last == null ? "" : " (" + last.getMessage() + ")"));
  }

  /** Whether every address {@code host} names is a loopback one (127.0.0.0/8, ::1, "localhost"). */
  private static boolean isLoopback(String host) {
    try {
      InetAddress[] all = InetAddress.getAllByName(host);
      return Arrays.stream(all).allMatch(InetAddress::isLoopbackAddress);
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("environment variable MASTER_ADDR=" + host + " is not a known host", e);
    }
  }

  private static String require(Map<String, String> env, String name) {
    String v = env.get(name);
    if (v == null || v.isBlank()) {
      throw new IllegalArgumentException("environment variable " + name
          + " is not set (a rendezvous without Spark needs MASTER_ADDR, MASTER_PORT, RANK and WORLD_SIZE)");
    }
    return v.trim();
  }

  private static int intVar(Map<String, String> env, String name, int min, int max) {
    String v = require(env, name);
    int value;
    try {
      value = Integer.parseInt(v);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("environment variable " + name + "='" + v + "' is not an integer");
    }
    if (value < min || value > max) {
      throw new IllegalArgumentException("environment variable " + name + "=" + value + " is outside " + min
          + ".." + max);
    }
    return value;
  }
}
