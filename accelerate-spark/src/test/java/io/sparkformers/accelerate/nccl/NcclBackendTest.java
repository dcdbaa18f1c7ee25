package io.sparkformers.accelerate.nccl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkformers.accelerate.CollectiveException;
import io.sparkformers.accelerate.DeviceCollectives;
import io.sparkformers.accelerate.ElementType;
import io.sparkformers.accelerate.ProcessGroup;
import io.sparkformers.accelerate.ProcessGroupBackend;
import io.sparkformers.accelerate.ProcessGroupOptions;
import io.sparkformers.accelerate.ProcessGroups;
import io.sparkformers.accelerate.ReduceOp;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * What of the nccl backend runs without a GPU: NCCL's result codes as exceptions naming the rank, the type and
 * operation codes, the library search failing clearly where libnccl.so.2 is missing, and the fallback to tcp
 * when any rank cannot use NCCL (two real ranks on 127.0.0.1, as threads).
 */
class NcclBackendTest {

  @Test
  void everyResultCodeMapsToItsNameAndAFailureNamesTheRankAndTheCall() {
    String[] symbols = {"ncclSuccess", "ncclUnhandledCudaError", "ncclSystemError", "ncclInternalError",
        "ncclInvalidArgument", "ncclInvalidUsage", "ncclRemoteError", "ncclInProgress"};
    for (int code = 0; code < symbols.length; code++) {
      assertEquals(symbols[code], NcclResult.of(code).symbol());
      assertEquals(code, NcclResult.of(code).code());
    }
    assertEquals(NcclResult.UNKNOWN, NcclResult.of(42));
    NcclResult.check(0, "ncclAllReduce", 0, 1, null); // success returns
    NcclException e = assertThrows(NcclException.class,
        () -> NcclResult.check(4, "ncclAllReduce", 1, 2, "invalid data type 99"));
    assertEquals("rank 1 of 2: ncclAllReduce failed with ncclInvalidArgument (4): invalid argument (a null or"
        + " host pointer, a bad data type or operation, or a count that does not match); NCCL says: invalid data"
        + " type 99", e.getMessage());
    assertEquals(1, e.rank());
    assertEquals(NcclResult.INVALID_ARGUMENT, e.result());
    assertInstanceOf(CollectiveException.class, e, "reaches the launcher as the tcp backend's failures do");
    NcclException unknown = assertThrows(NcclException.class, () -> NcclResult.check(42, "ncclBroadcast", 0, 4, ""));
    assertEquals("rank 0 of 4: ncclBroadcast failed with unknown (42): a result code this binding does not know"
        + " (a newer NCCL)", unknown.getMessage());
  }

  @Test
  void typesAndOperationsAreNcclsCodes() {
    assertEquals(7, NcclLibrary.dataType(ElementType.FLOAT32));
    assertEquals(6, NcclLibrary.dataType(ElementType.FLOAT16));
    assertEquals(8, NcclLibrary.dataType(ElementType.FLOAT64));
    assertEquals(2, NcclLibrary.dataType(ElementType.INT32));
    assertEquals(4, NcclLibrary.dataType(ElementType.INT64));
    assertEquals(0, NcclLibrary.reduceOp(ReduceOp.SUM));
    assertEquals(2, NcclLibrary.reduceOp(ReduceOp.MAX));
    assertEquals(3, NcclLibrary.reduceOp(ReduceOp.MIN));
    assertEquals(4, NcclLibrary.reduceOp(ReduceOp.AVG));
  }

  @Test
  void aMissingLibraryIsAClearError() {
    NcclUnavailableException e = assertThrows(NcclUnavailableException.class,
        () -> NcclLibrary.load(List.of("libnccl-missing-for-this-test.so.2")));
    assertTrue(e.getMessage().startsWith("NCCL could not be loaded (tried libnccl-missing-for-this-test.so.2: "),
        e.getMessage());
    assertTrue(e.getMessage().endsWith("or set SPARKFORMERS_NCCL_LIBRARY to its path"), e.getMessage());
  }

  @Test
  void publishedAddressesCarryTheIdAndReadiness() {
    byte[] id = new byte[NcclLibrary.UniqueId.BYTES];
    new SecureRandom().nextBytes(id);
    NcclBackend.Published zero = NcclBackend.Published.parse("10.0.0.1:4000#nccl=" + HexFormat.of().formatHex(id), 0);
    assertEquals("10.0.0.1:4000", zero.tcpAddress());
    assertTrue(zero.ready());
    assertArrayEquals(id, zero.uniqueId());
    NcclBackend.Published one = NcclBackend.Published.parse("10.0.0.2:4001#nccl=yes", 1);
    assertTrue(one.ready());
    assertNull(one.uniqueId());
    assertFalse(NcclBackend.Published.parse("10.0.0.3:4002#nccl=no", 2).ready());
    CollectiveException mixed = assertThrows(CollectiveException.class,
        () -> NcclBackend.Published.parse("10.0.0.3:4002", 2));
    assertTrue(mixed.getMessage().contains("every rank must use the same ddp_backend"), mixed.getMessage());
  }

  /** Two ranks through {@code backend}; each rank's options get its device from {@code devices}. */
  private static List<ProcessGroup> open(ProcessGroupBackend backend, int[] devices) throws Exception {
    byte[] secret = new byte[32];
    new SecureRandom().nextBytes(secret);
    List<ProcessGroupBackend.Endpoint> endpoints = new ArrayList<>();
    List<String> addresses = new ArrayList<>();
    for (int r = 0; r < devices.length; r++) {
      ProcessGroupBackend.Endpoint e = backend.listen(r, devices.length, "127.0.0.1",
          ProcessGroupOptions.builder().cudaDevice(devices[r]).build());
      endpoints.add(e);
      addresses.add(e.address());
    }
    ExecutorService threads = Executors.newFixedThreadPool(devices.length);
    try {
      List<Future<ProcessGroup>> fs = new ArrayList<>();
      for (ProcessGroupBackend.Endpoint e : endpoints) {
        fs.add(threads.submit(() -> e.connect(addresses, secret)));
      }
      List<ProcessGroup> groups = new ArrayList<>();
      for (Future<ProcessGroup> f : fs) {
        groups.add(f.get(60, TimeUnit.SECONDS));
      }
      return groups;
    } finally {
      threads.shutdown();
    }
  }

  private static float[] allReduceOnEveryRank(List<ProcessGroup> groups) throws Exception {
    ExecutorService threads = Executors.newFixedThreadPool(groups.size());
    try {
      List<Future<float[]>> fs = new ArrayList<>();
      for (ProcessGroup g : groups) {
        fs.add(threads.submit(() -> {
          ByteBuffer b = ByteBuffer.allocateDirect(8).order(ByteOrder.nativeOrder());
          b.putFloat(0, g.rank() + 1).putFloat(4, 10 * (g.rank() + 1));
          g.allReduce(b, ElementType.FLOAT32, ReduceOp.SUM);
          return new float[] {b.getFloat(0), b.getFloat(4)};
        }));
      }
      float[] first = fs.get(0).get(60, TimeUnit.SECONDS);
      for (Future<float[]> f : fs) {
        assertArrayEquals(first, f.get(60, TimeUnit.SECONDS));
      }
      return first;
    } finally {
      threads.shutdown();
    }
  }

  @Test
  void withoutLibncclEveryRankFallsBackToTcp() throws Exception {
    // Both ranks have a device, but libnccl cannot be loaded (as on a machine without NCCL).
    NcclBackend backend = new NcclBackend(() -> NcclLibrary.load(List.of("libnccl-missing-for-this-test.so.2")),
        NcclLibrary::loadDriver);
    NcclBackend.NcclEndpoint probe = backend.listen(0, 1, "127.0.0.1",
        ProcessGroupOptions.builder().cudaDevice(0).build());
    assertTrue(probe.unavailableReason().startsWith("NCCL could not be loaded"), probe.unavailableReason());
    assertTrue(probe.address().endsWith("#nccl=no"), probe.address());
    probe.close();
    List<ProcessGroup> groups = open(backend, new int[] {0, 0});
    try {
      for (ProcessGroup g : groups) {
        assertFalse(g instanceof DeviceCollectives, "the fallback reduces host memory only");
      }
      assertArrayEquals(new float[] {3, 30}, allReduceOnEveryRank(groups));
    } finally {
      groups.forEach(ProcessGroup::close);
    }
  }

  @Test
  void aRankWithoutAGpuMakesEveryRankUseTcp() throws Exception {
    List<ProcessGroup> groups = open(new NcclBackend(), new int[] {-1, -1});
    try {
      assertFalse(groups.get(0) instanceof DeviceCollectives);
      assertArrayEquals(new float[] {3, 30}, allReduceOnEveryRank(groups));
    } finally {
      groups.forEach(ProcessGroup::close);
    }
  }

  @Test
  void aSingleRankWithoutAGpuGetsAWorkingTcpGroup() throws Exception {
    // The device check opens a world of one this way; without a GPU it must still form a group.
    List<ProcessGroup> groups = open(new NcclBackend(), new int[] {-1});
    try (ProcessGroup g = groups.get(0)) {
      assertEquals(1, g.worldSize());
      assertFalse(g instanceof DeviceCollectives);
      ByteBuffer in = ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder()).putFloat(0, 7f);
      ByteBuffer out = ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder());
      g.allGather(in, out, ElementType.FLOAT32);
      assertEquals(7f, out.getFloat(0));
    }
  }

  @Test
  void theEnvironmentRendezvousCarriesNcclAddresses() throws Exception {
    int port;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
      port = s.getLocalPort();
    }
    int p = port;
    ExecutorService threads = Executors.newFixedThreadPool(2);
    try {
      List<Future<ProcessGroup>> fs = new ArrayList<>();
      for (int r = 0; r < 2; r++) {
        java.util.Map<String, String> env = java.util.Map.of("MASTER_ADDR", "127.0.0.1", "MASTER_PORT",
            Integer.toString(p), "RANK", Integer.toString(r), "WORLD_SIZE", "2");
        fs.add(threads.submit(() -> ProcessGroups.fromEnvironment(env,
            ProcessGroupOptions.builder().backend("nccl").build())));
      }
      List<ProcessGroup> groups = new ArrayList<>();
      for (Future<ProcessGroup> f : fs) {
        groups.add(f.get(60, TimeUnit.SECONDS));
      }
      try {
        assertArrayEquals(new float[] {3, 30}, allReduceOnEveryRank(groups));
      } finally {
        groups.forEach(ProcessGroup::close);
      }
    } finally {
      threads.shutdown();
    }
  }

  @Test
  void theBackendIsFoundByName() {
    assertEquals("nccl", ProcessGroups.backend("nccl").name());
  }
}
