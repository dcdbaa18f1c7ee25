package io.sparkformers.accelerate.tcp;

import java.io.IOException;
import java.nio.channels.SocketChannel;

/**
 * The ranks' own authentication ({@link Handshake}: a mutual HMAC-SHA256 challenge over the run's secret) for
 * a connection from a rank to the driver. The driver takes the acceptor's side as rank -1, below every rank,
 * so that any rank of the run may connect and none other. Used by
 * {@link io.sparkformers.accelerate.DriverChannel}; not meant for users.
 */
public final class DriverLinkHandshake {
  /** The acceptor's rank for the driver: lower than every rank, so every rank of the world is accepted. */
  private static final int DRIVER = -1;

  private DriverLinkHandshake() {}

  /** The rank's side; throws when the driver does not prove it knows {@code secret}. */
  public static void connect(SocketChannel ch, int rank, int worldSize, byte[] secret) throws IOException {
    Handshake.asConnector(ch, rank, DRIVER, worldSize, secret);
  }

  /**
   * The driver's side: returns the connecting rank, or throws {@link IOException} saying why the peer was
   * refused (not a sparkformers peer, another run's secret, a rank outside the world).
   */
  public static int accept(SocketChannel ch, int worldSize, byte[] secret) throws IOException {
    try {
      return Handshake.asAcceptor(ch, DRIVER, worldSize, secret);
    } catch (Handshake.Refused e) {
      throw new IOException(e.getMessage());
    }
  }
}
