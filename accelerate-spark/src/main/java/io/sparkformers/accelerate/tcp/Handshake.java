package io.sparkformers.accelerate.tcp;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Mutual HMAC-SHA256 challenge between two ranks that share the run's secret. The connector sends its rank
 * and a nonce; the acceptor proves it knows the secret over that nonce and sends its own; the connector
 * proves it over the acceptor's nonce; the acceptor acknowledges. Neither side ever sends the secret.
 */
final class Handshake {
  static final int MAGIC = 0x53464847; // "SFHG"
  static final int VERSION = 1;
  private static final SecureRandom RANDOM = new SecureRandom();

  /** The peer is not one of ours: wrong protocol, wrong secret, or a rank we do not expect. */
  static final class Refused extends Exception {
    private static final long serialVersionUID = 1L;

    Refused(String message) {
      super(message);
    }
  }

  private Handshake() {}

  static void asConnector(SocketChannel ch, int rank, int peer, int worldSize, byte[] secret)
      throws IOException {
    DataInputStream in = new DataInputStream(ch.socket().getInputStream());
    OutputStream out = ch.socket().getOutputStream();
    byte[] nonceC = nonce();
    out.write(ByteBuffer.allocate(32).putInt(MAGIC).putInt(VERSION).putInt(rank).putInt(worldSize)
        .put(nonceC).array());
    out.flush();
    int acceptorRank = in.readInt();
    byte[] nonceA = new byte[16];
    in.readFully(nonceA);
    byte[] proofA = new byte[32];
    in.readFully(proofA);
    if (acceptorRank != peer) {
      throw new IOException("expected rank " + peer + " but rank " + acceptorRank + " answered");
    }
    if (!MessageDigest.isEqual(proofA, mac(secret, "acceptor", peer, rank, nonceC, nonceA))) {
      throw new IOException("rank " + peer + " failed authentication (not this run's secret)");
    }
    out.write(mac(secret, "connector", peer, rank, nonceA, nonceC));
    out.flush();
    int ack;
    try {
      ack = in.readUnsignedByte();
    } catch (EOFException e) {
      throw new IOException("rank " + peer + " refused this rank's authentication");
    }
    if (ack != 1) {
      throw new IOException("rank " + peer + " refused this rank's authentication");
    }
  }

  /** Returns the connector's rank, or throws {@link Refused} (the caller logs and closes). */
  static int asAcceptor(SocketChannel ch, int rank, int worldSize, byte[] secret) throws IOException, Refused {
    DataInputStream in = new DataInputStream(ch.socket().getInputStream());
    OutputStream out = ch.socket().getOutputStream();
    int magic;
    try {
      magic = in.readInt();
    } catch (EOFException e) {
      throw new Refused("closed before the handshake");
    }
    if (magic != MAGIC) {
      throw new Refused(String.format("not a sparkformers peer (first bytes 0x%08x)", magic));
    }
    int version = in.readInt();
    int peer = in.readInt();
    int peerWorld = in.readInt();
    if (version != VERSION) {
      throw new Refused("handshake version " + version + ", expected " + VERSION);
    }
    if (peerWorld != worldSize || peer <= rank || peer >= worldSize) {
      throw new Refused("claims rank " + peer + " of " + peerWorld + "; expected a rank in " + (rank + 1) + ".."
          + (worldSize - 1) + " of " + worldSize);
    }
    byte[] nonceC = new byte[16];
    in.readFully(nonceC);
    byte[] nonceA = nonce();
    out.write(ByteBuffer.allocate(52).putInt(rank).put(nonceA).put(mac(secret, "acceptor", rank, peer, nonceC,
        nonceA)).array());
    out.flush();
    byte[] proofC = new byte[32];
    try {
      in.readFully(proofC);
    } catch (EOFException e) {
      throw new Refused("claimed rank " + peer + " but closed before proving the secret");
    }
    if (!MessageDigest.isEqual(proofC, mac(secret, "connector", rank, peer, nonceA, nonceC))) {
      throw new Refused("claimed rank " + peer + " but failed authentication (not this run's secret)");
    }
    out.write(1);
    out.flush();
    return peer;
  }

  private static byte[] nonce() {
    byte[] n = new byte[16];
    RANDOM.nextBytes(n);
    return n;
  }

  private static byte[] mac(byte[] secret, String role, int acceptor, int connector, byte[] n1, byte[] n2) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret, "HmacSHA256"));
      mac.update(role.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      mac.update(ByteBuffer.allocate(8).putInt(acceptor).putInt(connector).array());
      mac.update(n1);
      mac.update(n2);
      return mac.doFinal();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is not available", e);
    }
  }
}
