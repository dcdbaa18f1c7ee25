package io.sparkformers.accelerate;

import ai.djl.Device;
import io.sparkformers.config.ConfigEnum;
import io.sparkformers.config.ConfigTypes;
import java.util.List;
import java.util.Map;
import java.util.function.IntSupplier;

/**
 * Which device a rank trains on, and which transport its process group uses. A Spark task takes the first of
 * its {@code gpu} resource addresses (what {@code spark.task.resource.gpu.amount} and the executors'
 * {@code spark.executor.resource.gpu.discoveryScript} give it, as TorchDistributor uses them); a process
 * started without Spark (the torchrun-style environment rendezvous) takes CUDA device {@code LOCAL_RANK}, and a
 * lone process without LOCAL_RANK CUDA device 0; everything else runs on the CPU. The device's index is an
 * index among the CUDA devices this process sees (after {@code CUDA_VISIBLE_DEVICES}).
 */
public final class DeviceSelection {
  private DeviceSelection() {}

  /** The {@code device} setting of a job. */
  public enum Mode implements ConfigEnum {
    /** A GPU where the rank was given one (Spark resources, LOCAL_RANK), else the CPU. */
    AUTO("auto"),
    /** The CPU, even where GPUs are assigned. */
    CPU("cpu"),
    /** The rank's GPU; a rank without one fails, saying how to assign one. */
    CUDA("cuda");

    private final String value;

    Mode(String value) {
      this.value = value;
    }

    @Override
    public String value() {
      return value;
    }

    /** The mode named {@code value}; an unknown name is an error listing the valid ones. */
    public static Mode parse(String value) {
      return ConfigTypes.parseEnum(Mode.class, value);
    }

    @Override
    public String toString() {
      return value;
    }
  }

  /**
   * The device of a Spark task given {@code gpuAddresses} (its {@code gpu} resource addresses, none when the
   * task has no such resource). {@code visibleGpus} counts the CUDA devices this process sees; it is asked only
   * when a GPU is chosen (it loads the CUDA runtime).
   */
  public static Device forSparkTask(Mode mode, List<String> gpuAddresses, IntSupplier visibleGpus) {
    if (mode == Mode.CPU) {
      return Device.cpu();
    }
    if (gpuAddresses == null || gpuAddresses.isEmpty()) {
      if (mode == Mode.CUDA) {
        throw new IllegalStateException("device: cuda, but this Spark task was given no GPU: set"
            + " spark.task.resource.gpu.amount (e.g. 1) and spark.executor.resource.gpu.amount with a"
            + " spark.executor.resource.gpu.discoveryScript, or use device: auto or cpu");
      }
      return Device.cpu();
    }
    String address = gpuAddresses.get(0).trim();
    int index;
    try {
      index = Integer.parseInt(address);
    } catch (NumberFormatException e) {
      throw new IllegalStateException("the Spark task's gpu resource address '" + address + "' is not a CUDA"
          + " device index (the discovery script must report indices such as \"0\")", e);
    }
    return gpu(index, "the Spark task's gpu resource address " + index, visibleGpus.getAsInt());
  }

  /**
   * A job's {@code device} setting applied to the device its launcher {@code assigned} the rank
   * ({@link RankContext#device()}): cpu gives the CPU, auto the assigned device, cuda the assigned GPU or an error.
   */
  public static Device forRank(Mode mode, Device assigned) {
    return switch (mode) {
      case CPU -> Device.cpu();
      case AUTO -> assigned;
      case CUDA -> assigned.isGpu() ? assigned : forSparkTask(Mode.CUDA, List.of(), () -> 0);
    };
  }

  /**
   * The device of a process started without Spark, from its environment: CUDA device {@code LOCAL_RANK} when
   * set, else device 0 when there is one, else the CPU ({@code mode} auto), or that GPU or an error (cuda).
   */
  public static Device forProcess(Mode mode, Map<String, String> env, IntSupplier visibleGpus) {
    if (mode == Mode.CPU) {
      return Device.cpu();
    }
    String localRank = env.get("LOCAL_RANK");
    int visible = visibleGpus.getAsInt();
    if (visible == 0) {
      if (mode == Mode.CUDA) {
        throw new IllegalStateException("device: cuda, but this process sees no CUDA device (is the CUDA"
            + " libtorch loaded? see the README's GPU clusters section; CUDA_VISIBLE_DEVICES="
            + env.getOrDefault("CUDA_VISIBLE_DEVICES", "unset") + ")");
      }
      return Device.cpu();
    }
    if (localRank == null || localRank.isBlank()) {
      return Device.gpu(0);
    }
    int index;
    try {
      index = Integer.parseInt(localRank.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("environment variable LOCAL_RANK=" + localRank + " is not a number", e);
    }
    return gpu(index, "LOCAL_RANK=" + index, visible);
  }

  private static Device gpu(int index, String source, int visible) {
    if (index < 0 || index >= visible) {
      throw new IllegalStateException(source + " names CUDA device " + index + ", but this process sees "
          + visible + " CUDA device(s)" + (visible == 0 ? " (is the CUDA libtorch loaded?)" : "")
          + "; one GPU per rank needs as many visible devices as ranks on this host");
    }
    return Device.gpu(index);
  }

  /**
   * The process group backend a rank opens: {@code requested} when it is a backend's name; for {@code auto}
   * (or null), {@code nccl} on a GPU and {@code tcp} on the CPU. The nccl backend itself agrees with the other
   * ranks: where any rank is on the CPU or cannot load libnccl, every rank uses tcp, staging device memory
   * through the host.
   */
  public static String chooseBackend(String requested, Device device) {
    if (requested == null || requested.equals("auto")) {
      return device != null && device.isGpu() ? "nccl" : "tcp";
    }
    return requested;
  }

  /** The CUDA devices this process sees through DJL (0 without a CUDA libtorch or a driver). */
  public static int visibleGpus() {
    try {
      return ai.djl.engine.Engine.getInstance().getGpuCount();
    } catch (RuntimeException | LinkageError e) {
      return 0; // no engine on the class path, or its native library failed to load: no GPU reachable
    }
  }
}
