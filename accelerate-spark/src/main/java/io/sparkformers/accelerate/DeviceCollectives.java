package io.sparkformers.accelerate;

import java.nio.ByteBuffer;

/**
 * Collectives on GPU memory, offered by a {@link ProcessGroup} whose backend reduces in device memory (the
 * {@code nccl} backend). A device buffer is a direct {@link ByteBuffer} whose address is a CUDA device pointer
 * (for a DJL tensor: {@code io.sparkformers.training.internal.DjlNative.memory}); its position and limit select
 * the bytes, exactly as for host buffers, but its contents must never be read or written from Java. The work is
 * queued on the CUDA stream libtorch computes on, so it is ordered with the kernels before and after it; reading
 * the result on the host (through libtorch) waits for it. The group's {@link ProcessGroup} methods keep taking
 * host memory.
 */
public interface DeviceCollectives {

  /**
   * The CUDA device (an index among this process's visible ones) whose memory the collectives take, or -1 for
   * host memory.
   */
  int cudaDevice();

  /** Reduces {@code deviceBuffer} over all ranks in place. */
  void allReduceDevice(ByteBuffer deviceBuffer, ElementType type, ReduceOp op);

  /** Copies {@code root}'s device buffer into every other rank's. */
  void broadcastDevice(ByteBuffer deviceBuffer, ElementType type, int root);

  /** Gathers every rank's {@code input} into {@code output}, rank by rank, in device memory. */
  void allGatherDevice(ByteBuffer input, ByteBuffer output, ElementType type);
}
