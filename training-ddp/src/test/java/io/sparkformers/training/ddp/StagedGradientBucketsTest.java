package io.sparkformers.training.ddp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.sparkformers.accelerate.DeviceCollectives;
import io.sparkformers.accelerate.ElementType;
import io.sparkformers.accelerate.ProcessGroup;
import io.sparkformers.accelerate.ProcessGroupOptions;
import io.sparkformers.accelerate.ProcessGroups;
import io.sparkformers.accelerate.ReduceOp;
import io.sparkformers.training.internal.Autograd;
import io.sparkformers.training.optim.Param;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * Buckets in tensors of their own: staged through the host buffers around each all-reduce (the path of GPU
 * parameters over the tcp backend), or reduced where they are by a group's {@link DeviceCollectives} (the nccl
 * backend's path), run here on CPU parameters by forcing it: two ranks as threads over tcp, the second case
 * through a group whose device collectives are the tcp group's own on the tensors' host memory.
 */
class StagedGradientBucketsTest {

  /** Rank r starts from (r+1)·(w, b); returns its weights after the broadcast and its gradients per round. */
  static List<float[]> rank(int rank, int port, boolean deviceCollectives) {
    Map<String, String> env = Map.of("MASTER_ADDR", "127.0.0.1", "MASTER_PORT", Integer.toString(port),
        "RANK", Integer.toString(rank), "WORLD_SIZE", "2");
    List<float[]> seen = new ArrayList<>();
    try (ProcessGroup tcp = ProcessGroups.fromEnvironment(env, ProcessGroupOptions.defaults());
        NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      float s = rank + 1;
      NDArray w = m.create(new float[] {s, 2 * s, 3 * s, 4 * s}, new Shape(2, 2));
      NDArray b = m.create(new float[] {5 * s, 6 * s});
      w.setRequiresGradient(true);
      b.setRequiresGradient(true);
      ProcessGroup pg = deviceCollectives ? hostMemoryDeviceCollectives(tcp) : tcp;
      GradientBuckets buckets = new GradientBuckets(List.of(new Param("w", w, true), new Param("b", b, false)),
          pg, 25L << 20, true);
      if (buckets.reducedByDeviceCollectives() != deviceCollectives) {
        throw new AssertionError("device collectives used: " + buckets.reducedByDeviceCollectives());
      }
      buckets.broadcastParameters(0);
      seen.add(w.toFloatArray());
      seen.add(b.toFloatArray());
      for (float k : new float[] {1, 10}) {
        DataParallelTrainerTest.backward(m, w, b, k * (rank + 1));
        buckets.allReduceMean();
        seen.add(w.getGradient().toFloatArray());
        seen.add(b.getGradient().toFloatArray());
        Autograd.zeroGrad(w);
        Autograd.zeroGrad(b);
      }
      buckets.unbindGradients();
      DataParallelTrainerTest.backward(m, w, b, 100 * (rank + 1));
      seen.add(w.getGradient().toFloatArray()); // own memory again: this rank's own gradient, not averaged
    }
    return seen;
  }

  /**
   * {@code tcp} with {@link DeviceCollectives} for host memory (cudaDevice -1): each device collective is the
   * tcp group's collective on the same buffer, so the buckets are reduced in place through their tensors' memory.
   */
  static ProcessGroup hostMemoryDeviceCollectives(ProcessGroup tcp) {
    return (ProcessGroup) Proxy.newProxyInstance(StagedGradientBucketsTest.class.getClassLoader(),
        new Class<?>[] {ProcessGroup.class, DeviceCollectives.class}, (proxy, method, args) -> {
          switch (method.getName()) {
            case "cudaDevice":
              return -1;
            case "allReduceDevice":
              tcp.allReduce((ByteBuffer) args[0], (ElementType) args[1], (ReduceOp) args[2]);
              return null;
            case "broadcastDevice":
              tcp.broadcast((ByteBuffer) args[0], (ElementType) args[1], (int) args[2]);
              return null;
            case "allGatherDevice":
              tcp.allGather((ByteBuffer) args[0], (ByteBuffer) args[1], (ElementType) args[2]);
              return null;
            default:
              try {
                return method.invoke(tcp, args);
              } catch (InvocationTargetException e) {
                throw e.getCause();
              }
          }
        });
  }

  @Test
  void stagedBucketsBroadcastWeightsAndAverageGradients() throws Exception {
    twoRanks(false);
  }

  @Test
  void bucketsReducedWhereTheyAreByDeviceCollectives() throws Exception {
    twoRanks(true);
  }

  private static void twoRanks(boolean deviceCollectives) throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    int p = port;
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      Future<List<float[]>> r0 = pool.submit(() -> rank(0, p, deviceCollectives));
      Future<List<float[]>> r1 = pool.submit(() -> rank(1, p, deviceCollectives));
      List<float[]> a = r0.get();
      List<float[]> b = r1.get();
      float[][] expected0 = {{1, 2, 3, 4}, {5, 6}, {1.5f, 1.5f, 1.5f, 1.5f}, {3, 3}, {15, 15, 15, 15}, {30, 30},
          {100, 100, 100, 100}};
      for (int i = 0; i < expected0.length - 1; i++) {
        assertArrayEquals(expected0[i], a.get(i), "rank 0, value " + i);
        assertArrayEquals(expected0[i], b.get(i), "rank 1, value " + i);
      }
      assertArrayEquals(expected0[6], a.get(6));
      assertArrayEquals(new float[] {200, 200, 200, 200}, b.get(6));
    } finally {
      pool.shutdownNow();
    }
  }
}
