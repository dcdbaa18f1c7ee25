package io.sparkformers.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Test support: a real S3-compatible server (s3proxy 4.1.0 with its file-system backend) started as a CHILD
 * PROCESS on 127.0.0.1 and a free port. Never in the test JVM: s3proxy's fat jar carries unshaded libraries
 * that clash with Spark's. The jar is copied to {@code target/s3proxy/s3proxy.jar} by this module's pom
 * (or named by the system property {@code s3proxy.jar}).
 *
 * <pre>{@code
 * try (S3ProxyServer s3 = S3ProxyServer.start(tempDir)) {
 *   s3.createBucket("data");
 *   Map<String, String> conf = s3.hadoopConfiguration(); // fs.s3a.* for s3a://data/...
 * }
 * }</pre>
 */
public final class S3ProxyServer implements AutoCloseable {
  public static final String ACCESS_KEY = "sparkformers-access";
  public static final String SECRET_KEY = "sparkformers-secret";

  private final Process process;
  private final int port;
  private final Path storage;
  private final Path log;

  private S3ProxyServer(Process process, int port, Path storage, Path log) {
    this.process = process;
    this.port = port;
    this.storage = storage;
    this.log = log;
  }

  /** Starts s3proxy storing buckets as folders under {@code workDir/storage}; waits until it accepts connections. */
  public static S3ProxyServer start(Path workDir) {
    Path jar = Paths.get(System.getProperty("s3proxy.jar", "target/s3proxy/s3proxy.jar")).toAbsolutePath();
    if (!Files.isRegularFile(jar)) {
      throw new IllegalStateException("No s3proxy jar at " + jar + ": run the build's process-test-resources phase"
          + " (maven-dependency-plugin copies it), or set -Ds3proxy.jar=...");
    }
    try {
      int port = freePort();
      Path storage = Files.createDirectories(workDir.resolve("storage"));
      Path properties = workDir.resolve("s3proxy.properties");
      Files.writeString(properties, String.join("\n",
          "s3proxy.endpoint=http://127.0.0.1:" + port,
          "s3proxy.authorization=aws-v2-or-v4",
          "s3proxy.identity=" + ACCESS_KEY,
          "s3proxy.credential=" + SECRET_KEY,
          "jclouds.provider=filesystem",
          "jclouds.filesystem.basedir=" + storage,
          ""));
      Path log = workDir.resolve("s3proxy.log");
      String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
      Process p = new ProcessBuilder(List.of(java, "-Xmx256m", "-jar", jar.toString(), "--properties",
          properties.toString()))
          .redirectErrorStream(true).redirectOutput(log.toFile()).start();
      S3ProxyServer server = new S3ProxyServer(p, port, storage, log);
      server.awaitListening(Duration.ofSeconds(60));
      return server;
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot start s3proxy", e);
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  private void awaitListening(Duration timeout) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IllegalStateException("s3proxy exited with " + process.exitValue() + ": " + Files.readString(log));
      }
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress("127.0.0.1", port), 200);
        return;
      } catch (IOException notYet) {
        try {
          Thread.sleep(100);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          close();
          throw new IllegalStateException("Interrupted while starting s3proxy", e);
        }
      }
    }
    close();
    throw new IllegalStateException("s3proxy did not listen on port " + port + " within " + timeout + ": "
        + Files.readString(log));
  }

  /** {@code http://127.0.0.1:PORT}. */
  public String endpoint() {
    return "http://127.0.0.1:" + port;
  }

  /** Creates a bucket (a folder of the file-system backend). */
  public void createBucket(String name) {
    try {
      Files.createDirectories(storage.resolve(name));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The Hadoop settings with which {@code s3a://BUCKET/...} reaches this server. */
  public Map<String, String> hadoopConfiguration() {
    Map<String, String> c = new LinkedHashMap<>();
    c.put("fs.s3a.endpoint", endpoint());
    c.put("fs.s3a.endpoint.region", "us-east-1");
    c.put("fs.s3a.path.style.access", "true");
    c.put("fs.s3a.connection.ssl.enabled", "false");
    c.put("fs.s3a.access.key", ACCESS_KEY);
    c.put("fs.s3a.secret.key", SECRET_KEY);
    c.put("fs.s3a.aws.credentials.provider", "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider");
    // Each test starts its own server on a new port: never reuse a cached FileSystem for another one.
    c.put("fs.s3a.impl.disable.cache", "true");
    return c;
  }

  /** The same settings as Spark options ({@code spark.hadoop.} prefixed). */
  public Map<String, String> sparkConfiguration() {
    Map<String, String> c = new LinkedHashMap<>();
    hadoopConfiguration().forEach((k, v) -> c.put("spark.hadoop." + k, v));
    return c;
  }

  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
