package io.sparkformers.accelerate;

import java.util.List;

/**
 * A transport for process groups, chosen by name in {@link ProcessGroupOptions#backend()} and found through
 * {@link java.util.ServiceLoader} ({@code META-INF/services/io.sparkformers.accelerate.ProcessGroupBackend}).
 * The built-in one is {@code "tcp"}; an NCCL backend plugs in the same way.
 *
 * <p>Opening a group takes two steps around a rendezvous: {@link #listen} gives each rank an endpoint whose
 * {@link Endpoint#address()} every rank publishes; once every rank knows all addresses and the run's
 * secret, {@link Endpoint#connect} forms the group.
 */
public interface ProcessGroupBackend {

  /** The name configurations use. */
  String name();

  /** Starts listening for this rank's peers on {@code host}. */
  Endpoint listen(int rank, int worldSize, String host, ProcessGroupOptions options);

  /** One rank's half-open group: it listens, and connects once every peer's address is known. */
  interface Endpoint extends AutoCloseable {
    /** What the other ranks need to reach this one, e.g. {@code host:port}. */
    String address();

    /**
     * Connects to every peer ({@code addresses} by rank, this rank's own included) and authenticates each
     * connection with {@code secret}; connections that fail authentication are refused and logged.
     */
    ProcessGroup connect(List<String> addresses, byte[] secret);

    @Override
    void close();
  }
}
