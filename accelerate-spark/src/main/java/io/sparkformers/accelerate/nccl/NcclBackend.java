package io.sparkformers.accelerate.nccl;

import io.sparkformers.accelerate.CollectiveException;
import io.sparkformers.accelerate.ProcessGroup;
import io.sparkformers.accelerate.ProcessGroupBackend;
import io.sparkformers.accelerate.ProcessGroupOptions;
import io.sparkformers.accelerate.tcp.TcpBackend;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code nccl} backend. Every rank opens a {@code tcp} endpoint (host-memory collectives, barriers, abort)
 * and says in its published address whether it can use NCCL: it has a CUDA device
 * ({@link ProcessGroupOptions#cudaDevice()}) and libnccl.so.2 and the CUDA driver load. Rank 0 adds the
 * communicator's {@code ncclUniqueId}, so the id travels over the same rendezvous as the addresses (Spark's
 * {@code BarrierTaskContext.allGather}, or the environment rendezvous). Once every address is known, every rank
 * takes the same decision: all ready, an {@link NcclProcessGroup} on the rank's device; otherwise the plain tcp
 * group (each rank that could not says why in its log), over which GPU gradients are staged through host memory.
 */
public final class NcclBackend implements ProcessGroupBackend {
  private static final Logger LOG = LoggerFactory.getLogger(NcclBackend.class);
  static final String MARK = "#nccl=";
  private static final String NOT_READY = "no";
  private static final String READY = "yes";

  private final Supplier<NcclLibrary.Nccl> ncclLoader;
  private final Supplier<NcclLibrary.CudaDriver> driverLoader;

  /** The backend over the system's libnccl.so.2 and libcuda.so.1 (what ServiceLoader finds). */
  public NcclBackend() {
    this(NcclLibrary::load, NcclLibrary::loadDriver);
  }

  /** The backend over the given loaders (tests give one that fails, as on a machine without NCCL). */
  public NcclBackend(Supplier<NcclLibrary.Nccl> ncclLoader, Supplier<NcclLibrary.CudaDriver> driverLoader) {
    this.ncclLoader = ncclLoader;
    this.driverLoader = driverLoader;
  }

  @Override
  public String name() {
    return "nccl";
  }

  @Override
  public NcclEndpoint listen(int rank, int worldSize, String host, ProcessGroupOptions options) {
    Endpoint tcp = new TcpBackend().listen(rank, worldSize, host, options);
    int device = options.cudaDevice();
    if (device < 0) {
      return new NcclEndpoint(rank, tcp, null, null, -1, null, "this rank has no CUDA device");
    }
    try {
      NcclLibrary.Nccl nccl = ncclLoader.get();
      NcclLibrary.CudaDriver driver = driverLoader.get();
      byte[] id = null;
      if (rank == 0) {
        NcclProcessGroup.makeCurrent(driver, device, rank);
        NcclLibrary.UniqueId uid = new NcclLibrary.UniqueId();
        int r = nccl.ncclGetUniqueId(uid);
        NcclResult.check(r, "ncclGetUniqueId", rank, worldSize, nccl.ncclGetErrorString(r));
        uid.read();
        id = uid.internal.clone();
      }
      return new NcclEndpoint(rank, tcp, nccl, driver, device, id, null);
    } catch (NcclUnavailableException | CollectiveException e) {
      return new NcclEndpoint(rank, tcp, null, null, device, null, e.getMessage());
    }
  }

  /** What rank {@code r}'s published address says: its tcp address, and NCCL's id or readiness. */
  record Published(String tcpAddress, boolean ready, byte[] uniqueId) {
    static Published parse(String address, int rank) {
      int at = address.lastIndexOf(MARK);
      if (at < 0) {
        throw new CollectiveException("rank " + rank + "'s address '" + address + "' was not published by the"
            + " nccl backend: every rank must use the same ddp_backend");
      }
      String token = address.substring(at + MARK.length());
      boolean ready = !token.equals(NOT_READY);
      byte[] id = ready && !token.equals(READY) ? HexFormat.of().parseHex(token) : null;
      return new Published(address.substring(0, at), ready, id);
    }
  }

  /** One rank's half-open nccl group. */
  public static final class NcclEndpoint implements Endpoint {
    private final int rank;
    private final Endpoint tcp;
    private final NcclLibrary.Nccl nccl;
    private final NcclLibrary.CudaDriver driver;
    private final int device;
    private final byte[] uniqueId;
    private final String unavailable;

    NcclEndpoint(int rank, Endpoint tcp, NcclLibrary.Nccl nccl, NcclLibrary.CudaDriver driver, int device,
        byte[] uniqueId, String unavailable) {
      this.rank = rank;
      this.tcp = tcp;
      this.nccl = nccl;
      this.driver = driver;
      this.device = device;
      this.uniqueId = uniqueId;
      this.unavailable = unavailable;
    }

    /** Why this rank cannot use NCCL, or null when it can. */
    public String unavailableReason() {
      return unavailable;
    }

    @Override
    public String address() {
      String token = unavailable != null ? NOT_READY : uniqueId != null ? HexFormat.of().formatHex(uniqueId) : READY;
      return tcp.address() + MARK + token;
    }

    @Override
    public ProcessGroup connect(List<String> addresses, byte[] secret) {
      List<String> tcpAddresses = new ArrayList<>();
      List<Integer> notReady = new ArrayList<>();
      byte[] id = null;
      for (int r = 0; r < addresses.size(); r++) {
        Published p = Published.parse(addresses.get(r), r);
        tcpAddresses.add(p.tcpAddress());
        if (!p.ready()) {
          notReady.add(r);
        }
        if (r == 0) {
          id = p.uniqueId();
        }
      }
      ProcessGroup host = tcp.connect(tcpAddresses, secret);
      if (!notReady.isEmpty()) {
        if (unavailable != null) {
          LOG.warn("rank {}: NCCL is not used: {}", rank, unavailable);
        }
        LOG.warn("rank {}: rank(s) {} cannot use NCCL, so every rank uses the tcp backend; GPU tensors are staged"
            + " through host memory (correct, slower)", rank, notReady);
        return host;
      }
      try {
        NcclProcessGroup group = NcclProcessGroup.open(host, nccl, driver, device, id);
        LOG.info("rank {}: NCCL {} communicator of {} rank(s) on CUDA device {}", rank, group.ncclVersion(),
            addresses.size(), device);
        return group;
      } catch (RuntimeException e) {
        host.abort(e);
        throw e;
      }
    }

    @Override
    public void close() {
      tcp.close();
    }
  }
}
