package io.sparkformers.accelerate;

import io.sparkformers.accelerate.tcp.DriverLinkHandshake;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A connection from the ranks back to the driver for one run: the driver opens it before launching the
 * ranks and closes it when the run ends; a rank (typically rank 0) sends text messages (log events) that the
 * driver's {@link Listener} receives, even when the ranks run in executor JVMs on other machines.
 *
 * <pre>{@code
 * try (DriverChannel channel = DriverChannel.open(sc, 2, (rank, message) -> System.err.println(message))) {
 *   BarrierLauncher.run(sc, 2, ctx -> {
 *     try (DriverChannel.Sender s = DriverChannel.senderForThisTask(ctx.rank()).orElse(null)) { ... }
 *   });
 * }
 * }</pre>
 *
 * <p>Opening sets a Spark local property on the calling thread, which Spark hands to every task that thread
 * launches ({@link #senderForThisTask} reads it): launch the run from the thread that opened the channel.
 * Connections are authenticated as the ranks' own are (a mutual HMAC challenge over a secret drawn per
 * channel; the secret itself never crosses the connection). Nothing here fails a run: a rank that cannot
 * reach the driver, or loses the connection, logs one warning and drops its messages; a message queue that
 * fills (a driver that stopped reading) drops messages instead of blocking training.
 */
public final class DriverChannel implements AutoCloseable {
  /** The Spark local property holding {@code host:port/worldSize/secret} for the tasks of the run. */
  public static final String LOCAL_PROPERTY = "sparkformers.driver.channel";
  private static final Logger LOG = LoggerFactory.getLogger(DriverChannel.class);
  private static final int MAX_MESSAGE_BYTES = 16 << 20;
  private static final int HANDSHAKE_TIMEOUT_MS = 10_000;
  /** How long {@link #close()} waits for connected ranks to finish sending before it cuts them off. */
  private static final long DRAIN_MILLIS = 5_000;

  /**
   * Receives the ranks' messages on the driver, on one thread per connected rank, and the launcher's lines
   * about the run's barrier stage (retries, replaced executors) on a Spark listener thread; those go to the
   * log unless overridden.
   */
  @FunctionalInterface
  public interface Listener {
    void onMessage(int rank, String message);

    /**
     * The barrier stage is run again because of {@code reason} ("rank 1's executor was lost"); this is
     * attempt {@code attempt} (from 1) of at most {@code maxAttempts}.
     */
    default void onStageRetry(String reason, int attempt, int maxAttempts) {
      LOG.warn("{}; retrying the stage (attempt {} of {})", reason, attempt, maxAttempts);
    }

    /** Something the launcher did about the run, in one line (an executor replaced, ...). */
    default void onLaunchNote(String line) {
      LOG.warn(line);
    }
  }

  /** Open channels by endpoint: the launcher finds the run's channel from its launching thread's property. */
  private static final Map<String, DriverChannel> OPEN = new ConcurrentHashMap<>();

  private final ServerSocketChannel server;
  private final String endpoint;
  private final JavaSparkContext sc;
  private final String previousProperty;
  private final Listener listener;
  private final int worldSize;
  private final byte[] secret;
  private final Thread acceptor;
  private final List<Thread> readers = new ArrayList<>();
  private final List<SocketChannel> connections = new ArrayList<>();
  private volatile boolean closing;

  private DriverChannel(JavaSparkContext sc, String host, int worldSize, Listener listener) throws IOException {
    this.sc = sc;
    this.worldSize = worldSize;
    this.listener = listener;
    this.secret = new byte[32];
    new SecureRandom().nextBytes(secret);
    this.server = ServerSocketChannel.open();
    server.bind(new InetSocketAddress(host, 0));
    int port = ((InetSocketAddress) server.getLocalAddress()).getPort();
    // URL-safe base64: the secret holds no '/', the endpoint's separator.
    this.endpoint = host + ":" + port + "/" + worldSize + "/"
        + Base64.getUrlEncoder().withoutPadding().encodeToString(secret);
    this.previousProperty = sc == null ? null : sc.getLocalProperty(LOCAL_PROPERTY);
    this.acceptor = new Thread(this::acceptLoop, "sparkformers-driver-channel-" + port);
    acceptor.setDaemon(true);
    acceptor.start();
    if (sc != null) {
      sc.setLocalProperty(LOCAL_PROPERTY, endpoint);
    }
    OPEN.put(endpoint, this);
  }

  /** The listener of the channel open for the tasks this thread launches next, if any. */
  static Optional<Listener> listenerForThisThread(JavaSparkContext sc) {
    String spec = sc.getLocalProperty(LOCAL_PROPERTY);
    DriverChannel c = spec == null ? null : OPEN.get(spec);
    return c == null ? Optional.empty() : Optional.of(c.listener);
  }

  /**
   * Opens a channel on the driver's address ({@code spark.driver.host}) for a run of {@code worldSize} ranks,
   * and makes it known to the tasks this thread launches next.
   */
  public static DriverChannel open(JavaSparkContext sc, int worldSize, Listener listener) {
    if (worldSize < 1) {
      throw new IllegalArgumentException("worldSize must be at least 1, got " + worldSize);
    }
    String host = sc.getConf().get("spark.driver.host", "127.0.0.1");
    try {
      return new DriverChannel(sc, host, worldSize, listener);
    } catch (IOException e) {
      throw new IllegalStateException("could not open the driver channel on " + host + ": " + e.getMessage(), e);
    }
  }

  /** Opens a channel without Spark, on {@code host}; hand {@link #endpoint()} to the ranks yourself. */
  public static DriverChannel open(String host, int worldSize, Listener listener) {
    if (worldSize < 1) {
      throw new IllegalArgumentException("worldSize must be at least 1, got " + worldSize);
    }
    try {
      return new DriverChannel(null, host, worldSize, listener);
    } catch (IOException e) {
      throw new IllegalStateException("could not open the driver channel on " + host + ": " + e.getMessage(), e);
    }
  }

  /** {@code host:port/worldSize/secret}: what a rank needs to connect ({@link #connect}). */
  public String endpoint() {
    return endpoint;
  }

  private void acceptLoop() {
    while (!closing) {
      SocketChannel ch;
      try {
        ch = server.accept();
      } catch (IOException e) {
        if (!closing) {
          LOG.warn("driver channel: stopped accepting: {}", e.getMessage());
        }
        return;
      }
      synchronized (connections) {
        if (closing) {
          closeQuietly(ch);
          return;
        }
        connections.add(ch);
        Thread t = new Thread(() -> serve(ch), "sparkformers-driver-channel-reader");
        t.setDaemon(true);
        readers.add(t);
        t.start();
      }
    }
  }

  private void serve(SocketChannel ch) {
    String from = String.valueOf(ch.socket().getRemoteSocketAddress());
    int rank;
    try {
      ch.socket().setSoTimeout(HANDSHAKE_TIMEOUT_MS);
      rank = DriverLinkHandshake.accept(ch, worldSize, secret);
      ch.socket().setSoTimeout(0);
    } catch (IOException e) {
      LOG.warn("driver channel: refused a connection from {}: {}", from, e.getMessage());
      closeQuietly(ch);
      return;
    }
    try {
      DataInputStream in = new DataInputStream(ch.socket().getInputStream());
      while (true) {
        int length;
        try {
          length = in.readInt();
        } catch (EOFException e) {
          return; // the rank closed its end: done
        }
        if (length < 0 || length > MAX_MESSAGE_BYTES) {
          LOG.warn("driver channel: rank {} sent a message of {} bytes (at most {}); closing its connection",
              rank, length, MAX_MESSAGE_BYTES);
          return;
        }
        byte[] b = new byte[length];
        in.readFully(b);
        try {
          listener.onMessage(rank, new String(b, StandardCharsets.UTF_8));
        } catch (RuntimeException e) {
          LOG.warn("driver channel: the listener failed on a message of rank {}: {}", rank, e.toString());
        }
      }
    } catch (IOException e) {
      if (!closing) {
        LOG.warn("driver channel: lost the connection of rank {} ({}): {}", rank, from, e.getMessage());
      }
    } finally {
      closeQuietly(ch);
    }
  }

  /**
   * Stops listening, waits up to 5 s for connected ranks to finish sending, then closes every connection, and
   * restores the thread's local property.
   */
  @Override
  public void close() {
    closing = true;
    OPEN.remove(endpoint, this);
    closeQuietly(server);
    try {
      acceptor.join(DRAIN_MILLIS);
      List<Thread> ts;
      synchronized (connections) {
        ts = new ArrayList<>(readers);
      }
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(DRAIN_MILLIS);
      for (Thread t : ts) {
        t.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
      }
      synchronized (connections) {
        connections.forEach(DriverChannel::closeQuietly);
      }
      for (Thread t : ts) {
        t.join(1_000);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      if (sc != null) {
        sc.setLocalProperty(LOCAL_PROPERTY, previousProperty);
      }
    }
  }

  private static void closeQuietly(java.io.Closeable c) {
    try {
      c.close();
    } catch (IOException ignored) {
      // closing anyway
    }
  }

  // ------------------------------------------------------------------------------------------ rank side

  /**
   * A sender to the driver for this Spark task, when the task was launched while a {@link DriverChannel} was
   * open on the driver's launching thread; empty otherwise (outside Spark too), or when the driver cannot be
   * reached (logged as a warning: training goes on without it).
   */
  public static Optional<Sender> senderForThisTask(int rank) {
    TaskContext tc = TaskContext.get();
    String spec = tc == null ? null : tc.getLocalProperty(LOCAL_PROPERTY);
    if (spec == null || spec.isEmpty()) {
      return Optional.empty();
    }
    try {
      return Optional.of(connect(spec, rank));
    } catch (IOException e) {
      LOG.warn("rank {}: could not reach the driver channel at {}: {}; its messages are dropped", rank,
          redact(spec), e.getMessage());
      return Optional.empty();
    }
  }

  /**
   * Connects rank {@code rank} to the channel at {@code endpoint} ({@link #endpoint()}); throws
   * {@link IllegalArgumentException} for a malformed endpoint, {@link IOException} when the driver cannot be
   * reached or does not know the secret.
   */
  public static Sender connect(String endpoint, int rank) throws IOException {
    String[] parts = endpoint.split("/", 3);
    int colon = parts[0].lastIndexOf(':');
    if (parts.length != 3 || colon <= 0) {
      throw new IllegalArgumentException("driver channel endpoint '" + redact(endpoint)
          + "': expected host:port/worldSize/secret");
    }
    int port;
    int worldSize;
    byte[] secret;
    try {
      port = Integer.parseInt(parts[0].substring(colon + 1));
      worldSize = Integer.parseInt(parts[1]);
      secret = Base64.getUrlDecoder().decode(parts[2]);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("driver channel endpoint '" + redact(endpoint)
          + "': expected host:port/worldSize/secret (port and worldSize integers, the secret URL-safe base64): "
          + e.getMessage());
    }
    if (rank < 0 || rank >= worldSize) {
      throw new IllegalArgumentException("rank " + rank + " is outside the driver channel's world of "
          + worldSize + " ranks");
    }
    SocketChannel ch = SocketChannel.open();
    try {
      ch.socket().connect(new InetSocketAddress(parts[0].substring(0, colon), port), HANDSHAKE_TIMEOUT_MS);
      ch.socket().setSoTimeout(HANDSHAKE_TIMEOUT_MS);
      ch.socket().setTcpNoDelay(true);
      DriverLinkHandshake.connect(ch, rank, worldSize, secret);
      ch.socket().setSoTimeout(0);
    } catch (IOException | RuntimeException e) {
      closeQuietly(ch);
      if (e instanceof SocketTimeoutException) {
        throw new IOException("the driver did not answer within " + HANDSHAKE_TIMEOUT_MS + " ms", e);
      }
      throw e;
    }
    return new Sender(ch, rank);
  }

  /** The endpoint without its secret (everything after the second '/'), for error messages. */
  private static String redact(String endpoint) {
    int first = endpoint.indexOf('/');
    int second = first < 0 ? -1 : endpoint.indexOf('/', first + 1);
    return second < 0 ? endpoint : endpoint.substring(0, second) + "/<secret>";
  }

  /**
   * A rank's end of the channel. {@link #send} never blocks and never throws: messages go through a bounded
   * queue to a background thread; when the queue is full or the connection is lost they are dropped (one
   * warning). {@link #close()} sends what is queued (waiting up to 5 s), then closes the connection.
   */
  public static final class Sender implements AutoCloseable {
    private static final String END = new String("end"); // a distinct instance: the writer's stop signal
    private final SocketChannel ch;
    private final int rank;
    private final BlockingQueue<String> queue = new ArrayBlockingQueue<>(10_000);
    private final Thread writer;
    private volatile boolean broken;
    private volatile boolean warnedFull;

    private Sender(SocketChannel ch, int rank) {
      this.ch = ch;
      this.rank = rank;
      this.writer = new Thread(this::writeLoop, "sparkformers-driver-channel-rank-" + rank);
      writer.setDaemon(true);
      writer.start();
    }

    /** Queues {@code message} for the driver; false when it was dropped (queue full or connection lost). */
    public boolean send(String message) {
      if (broken) {
        return false;
      }
      boolean queued = queue.offer(message);
      if (!queued && !warnedFull) {
        warnedFull = true;
        LOG.warn("rank {}: the driver channel's queue is full (the driver reads too slowly); dropping messages",
            rank);
      }
      return queued;
    }

    /** Whether the connection was lost (later messages are dropped). */
    public boolean isBroken() {
      return broken;
    }

    private void writeLoop() {
      try {
        while (true) {
          String m = queue.take();
          if (m == END) {
            return;
          }
          byte[] b = m.getBytes(StandardCharsets.UTF_8);
          ByteBuffer frame = ByteBuffer.allocate(4 + b.length).putInt(b.length).put(b).flip();
          while (frame.hasRemaining()) {
            ch.write(frame);
          }
        }
      } catch (IOException e) {
        broken = true;
        queue.clear();
        LOG.warn("rank {}: lost the driver channel ({}); training goes on, its log events are no longer sent",
            rank, e.getMessage());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    @Override
    public void close() {
      try {
        if (!broken && queue.offer(END, DRAIN_MILLIS, TimeUnit.MILLISECONDS)) {
          writer.join(DRAIN_MILLIS);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        writer.interrupt();
        closeQuietly(ch);
      }
    }
  }
}
