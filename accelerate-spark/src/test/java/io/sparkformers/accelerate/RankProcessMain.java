package io.sparkformers.accelerate;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;

/**
 * Test support: one rank as a separate JVM, joined through the torchrun-style environment rendezvous (as the
 * all-reduce benchmark's ranks are). Arguments: buffer bytes, "registered" or "plain", shared memory on
 * ("true"/"false"), timeout in seconds. It all-reduces forever, printing "iteration N" after each, until it is
 * killed or the group fails.
 */
public final class RankProcessMain {
  private RankProcessMain() {}

  public static void main(String[] args) {
    int bytes = Integer.parseInt(args[0]);
    boolean registered = args[1].equals("registered");
    ProcessGroupOptions options = ProcessGroupOptions.builder().sharedMemory(Boolean.parseBoolean(args[2]))
        .timeout(Duration.ofSeconds(Long.parseLong(args[3]))).build();
    try (ProcessGroup pg = ProcessGroups.fromEnvironment(System.getenv(), options)) {
      ByteBuffer b = registered ? pg.allocate(bytes) : ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder());
      for (long i = 1; ; i++) {
        pg.allReduce(b, ElementType.FLOAT32, ReduceOp.SUM);
        System.out.println("iteration " + i);
        System.out.flush();
      }
    }
  }
}
