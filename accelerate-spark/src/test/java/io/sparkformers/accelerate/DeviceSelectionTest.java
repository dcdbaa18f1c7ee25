package io.sparkformers.accelerate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import io.sparkformers.accelerate.DeviceSelection.Mode;
import java.util.List;
import java.util.Map;
import java.util.function.IntSupplier;
import org.junit.jupiter.api.Test;

/** Every branch of the device and backend choice, with the visible GPU count given (CI has no GPU). */
class DeviceSelectionTest {
  private static final IntSupplier NEVER = () -> {
    throw new AssertionError("the CUDA device count must not be asked for here");
  };

  private static IntSupplier gpus(int n) {
    return () -> n;
  }

  @Test
  void aSparkTaskTakesItsFirstGpuAddress() {
    assertEquals(Device.gpu(1), DeviceSelection.forSparkTask(Mode.AUTO, List.of(" 1", "2"), gpus(4)));
    assertEquals(Device.gpu(0), DeviceSelection.forSparkTask(Mode.CUDA, List.of("0"), gpus(1)));
  }

  @Test
  void aSparkTaskWithoutGpuRunsOnTheCpuUnderAutoAndFailsUnderCuda() {
    assertEquals(Device.cpu(), DeviceSelection.forSparkTask(Mode.AUTO, List.of(), NEVER));
    assertEquals(Device.cpu(), DeviceSelection.forSparkTask(Mode.AUTO, null, NEVER));
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> DeviceSelection.forSparkTask(Mode.CUDA, List.of(), NEVER));
    assertTrue(e.getMessage().startsWith("device: cuda, but this Spark task was given no GPU: set"
        + " spark.task.resource.gpu.amount"), e.getMessage());
  }

  @Test
  void cpuModeIgnoresAssignedGpus() {
    assertEquals(Device.cpu(), DeviceSelection.forSparkTask(Mode.CPU, List.of("3"), NEVER));
    assertEquals(Device.cpu(), DeviceSelection.forProcess(Mode.CPU, Map.of("LOCAL_RANK", "1"), NEVER));
  }

  @Test
  void aBadOrUnseenSparkAddressIsAnErrorNamingIt() {
    IllegalStateException notIndex = assertThrows(IllegalStateException.class,
        () -> DeviceSelection.forSparkTask(Mode.AUTO, List.of("GPU-5f3a"), NEVER));
    assertEquals("the Spark task's gpu resource address 'GPU-5f3a' is not a CUDA device index (the discovery"
        + " script must report indices such as \"0\")", notIndex.getMessage());
    IllegalStateException unseen = assertThrows(IllegalStateException.class,
        () -> DeviceSelection.forSparkTask(Mode.AUTO, List.of("2"), gpus(0)));
    assertEquals("the Spark task's gpu resource address 2 names CUDA device 2, but this process sees 0 CUDA"
        + " device(s) (is the CUDA libtorch loaded?); one GPU per rank needs as many visible devices as ranks on"
        + " this host", unseen.getMessage());
  }

  @Test
  void aProcessTakesCudaDeviceLocalRank() {
    assertEquals(Device.gpu(3), DeviceSelection.forProcess(Mode.AUTO, Map.of("LOCAL_RANK", "3"), gpus(8)));
    IllegalStateException beyond = assertThrows(IllegalStateException.class,
        () -> DeviceSelection.forProcess(Mode.AUTO, Map.of("LOCAL_RANK", "1"), gpus(1)));
    assertTrue(beyond.getMessage().startsWith("LOCAL_RANK=1 names CUDA device 1, but this process sees 1"),
        beyond.getMessage());
    IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
        () -> DeviceSelection.forProcess(Mode.AUTO, Map.of("LOCAL_RANK", "x"), gpus(1)));
    assertEquals("environment variable LOCAL_RANK=x is not a number", bad.getMessage());
  }

  @Test
  void aLoneProcessTakesDeviceZeroOrTheCpu() {
    assertEquals(Device.gpu(0), DeviceSelection.forProcess(Mode.AUTO, Map.of(), gpus(2)));
    assertEquals(Device.gpu(0), DeviceSelection.forProcess(Mode.CUDA, Map.of(), gpus(1)));
    assertEquals(Device.cpu(), DeviceSelection.forProcess(Mode.AUTO, Map.of("LOCAL_RANK", "0"), gpus(0)));
    IllegalStateException none = assertThrows(IllegalStateException.class,
        () -> DeviceSelection.forProcess(Mode.CUDA, Map.of("CUDA_VISIBLE_DEVICES", ""), gpus(0)));
    assertTrue(none.getMessage().startsWith("device: cuda, but this process sees no CUDA device"),
        none.getMessage());
  }

  @Test
  void aJobsModeAppliesToTheAssignedDevice() {
    assertEquals(Device.gpu(2), DeviceSelection.forRank(Mode.AUTO, Device.gpu(2)));
    assertEquals(Device.cpu(), DeviceSelection.forRank(Mode.AUTO, Device.cpu()));
    assertEquals(Device.cpu(), DeviceSelection.forRank(Mode.CPU, Device.gpu(0)));
    assertEquals(Device.gpu(0), DeviceSelection.forRank(Mode.CUDA, Device.gpu(0)));
    assertThrows(IllegalStateException.class, () -> DeviceSelection.forRank(Mode.CUDA, Device.cpu()));
  }

  @Test
  void theBackendIsNcclOnAGpuUnlessNamed() {
    assertEquals("nccl", DeviceSelection.chooseBackend("auto", Device.gpu(0)));
    assertEquals("nccl", DeviceSelection.chooseBackend(null, Device.gpu(1)));
    assertEquals("tcp", DeviceSelection.chooseBackend("auto", Device.cpu()));
    assertEquals("tcp", DeviceSelection.chooseBackend("tcp", Device.gpu(0)));
    assertEquals("nccl", DeviceSelection.chooseBackend("nccl", Device.cpu()));
  }

  @Test
  void modesParseAsConfigFilesSpellThem() {
    assertEquals(Mode.CUDA, Mode.parse("cuda"));
    assertEquals("auto", Mode.AUTO.toString());
    assertThrows(IllegalArgumentException.class, () -> Mode.parse("gpu"));
  }
}
