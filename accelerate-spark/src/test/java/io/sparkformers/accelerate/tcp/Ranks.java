package io.sparkformers.accelerate.tcp;

import io.sparkformers.accelerate.ProcessGroup;
import io.sparkformers.accelerate.ProcessGroupOptions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/** Test support: N ranks of real TCP process groups on 127.0.0.1, as threads of this JVM. */
final class Ranks implements AutoCloseable {
  interface RankBody<T> {
    T run(ProcessGroup pg) throws Exception;
  }

  final List<ProcessGroup> groups;
  private final ExecutorService threads;

  private Ranks(List<ProcessGroup> groups, ExecutorService threads) {
    this.groups = groups;
    this.threads = threads;
  }

  static Ranks open(int n, ProcessGroupOptions options) {
    ExecutorService threads = Executors.newFixedThreadPool(n);
    byte[] secret = new byte[32];
    new SecureRandom().nextBytes(secret);
    TcpBackend backend = new TcpBackend();
    List<TcpBackend.TcpEndpoint> endpoints = new ArrayList<>();
    List<String> addresses = new ArrayList<>();
    for (int r = 0; r < n; r++) {
      TcpBackend.TcpEndpoint e = backend.listen(r, n, "127.0.0.1", options);
      endpoints.add(e);
      addresses.add(e.address());
    }
    List<Future<ProcessGroup>> fs = new ArrayList<>();
    for (int r = 0; r < n; r++) {
      TcpBackend.TcpEndpoint e = endpoints.get(r);
      fs.add(threads.submit(() -> e.connect(addresses, secret)));
    }
    List<ProcessGroup> groups = new ArrayList<>();
    for (Future<ProcessGroup> f : fs) {
      try {
        groups.add(f.get(60, TimeUnit.SECONDS));
      } catch (Exception ex) {
        throw new IllegalStateException(ex);
      }
    }
    return new Ranks(groups, threads);
  }

  /** Runs {@code body} on every rank at once; returns the results by rank, or throws rank 0's failure first. */
  <T> List<T> run(RankBody<T> body) throws Exception {
    List<Future<T>> fs = new ArrayList<>();
    for (ProcessGroup pg : groups) {
      fs.add(threads.submit(() -> body.run(pg)));
    }
    List<T> out = new ArrayList<>();
    for (Future<T> f : fs) {
      try {
        out.add(f.get(120, TimeUnit.SECONDS));
      } catch (ExecutionException e) {
        if (e.getCause() instanceof Exception ex) {
          throw ex;
        }
        throw e;
      }
    }
    return out;
  }

  /** Runs {@code body} on every rank and returns each rank's outcome: its result or the exception it threw. */
  <T> List<Object> outcomes(RankBody<T> body) throws Exception {
    List<Future<T>> fs = new ArrayList<>();
    for (ProcessGroup pg : groups) {
      fs.add(threads.submit(() -> body.run(pg)));
    }
    List<Object> out = new ArrayList<>();
    for (Future<T> f : fs) {
      try {
        out.add(f.get(120, TimeUnit.SECONDS));
      } catch (ExecutionException e) {
        out.add(e.getCause());
      }
    }
    return out;
  }

  @Override
  public void close() {
    groups.forEach(ProcessGroup::close);
    threads.shutdownNow();
  }
}
