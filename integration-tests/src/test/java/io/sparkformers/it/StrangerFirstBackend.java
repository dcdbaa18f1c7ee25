package io.sparkformers.it;

import io.sparkformers.accelerate.ProcessGroupBackend;
import io.sparkformers.accelerate.ProcessGroupOptions;
import io.sparkformers.accelerate.tcp.TcpBackend;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Test support: the {@code tcp} backend, except that rank 0, once it listens, publishes its address in the
 * folder named by SPARKFORMERS_IT_STRANGER_DIR and waits (up to 60 s) until the test has connected a stranger
 * to it, before the ranks learn each other's addresses: so the stranger is certainly first in line when the
 * peers connect. Everything after that is the real rendezvous.
 */
public final class StrangerFirstBackend implements ProcessGroupBackend {
  @Override
  public String name() {
    return "tcp-stranger-first";
  }

  @Override
  public Endpoint listen(int rank, int worldSize, String host, ProcessGroupOptions options) {
    Endpoint endpoint = new TcpBackend().listen(rank, worldSize, host, options);
    String dir = System.getenv("SPARKFORMERS_IT_STRANGER_DIR");
    if (rank != 0 || dir == null) {
      return endpoint;
    }
    try {
      Path published = Path.of(dir, "rank0-address");
      Files.writeString(Path.of(dir, "rank0-address.tmp"), endpoint.address());
      Files.move(Path.of(dir, "rank0-address.tmp"), published);
      long deadline = System.nanoTime() + 60_000_000_000L;
      while (!Files.exists(Path.of(dir, "stranger-connected")) && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      return endpoint;
    } catch (IOException e) {
      endpoint.close();
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      endpoint.close();
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }
}
