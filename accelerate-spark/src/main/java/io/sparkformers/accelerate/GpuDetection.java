package io.sparkformers.accelerate;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where GPUs can be: DJL asks the CUDA runtime for the GPU count every time libtorch loads (platform detection in
 * its engine, whatever device is asked for), and on a machine that has the CUDA runtime library but no NVIDIA
 * driver it logs "Failed to detect GPU count: CUDA driver version is insufficient" twice per JVM, though the
 * answer, no GPU, is right. {@link #quietProbeWithoutDriver()}, called before libtorch loads, lowers that one
 * logger to errors when no driver is present and no GPU is asked for ({@code CUDA_VISIBLE_DEVICES}); with a
 * driver its warnings stay, since they then mean a broken GPU setup.
 */
public final class GpuDetection {
  /** The file the NVIDIA kernel driver provides while it is loaded. */
  static final Path DRIVER = Path.of("/proc/driver/nvidia/version");
  /** The logger DJL's CUDA probe writes to. */
  static final String PROBE_LOGGER = "ai.djl.util.cuda.CudaUtils";

  private static Boolean quieted;

  private GpuDetection() {}

  /** Whether an NVIDIA driver is loaded on this machine (the CUDA runtime alone finds no GPU without it). */
  public static boolean driverPresent() {
    return Files.exists(DRIVER);
  }

  /** Once per JVM: lowers DJL's CUDA probe logger to errors when no GPU can be there; returns whether it did. */
  public static synchronized boolean quietProbeWithoutDriver() {
    if (quieted == null) {
      quieted = quietProbe(driverPresent(), System.getenv("CUDA_VISIBLE_DEVICES"));
    }
    return quieted;
  }

  static boolean quietProbe(boolean driverPresent, String cudaVisibleDevices) {
    if (driverPresent || (cudaVisibleDevices != null && !cudaVisibleDevices.isBlank())) {
      return false;
    }
    try {
      org.apache.logging.log4j.core.config.Configurator.setLevel(PROBE_LOGGER,
          org.apache.logging.log4j.Level.ERROR);
      return true;
    } catch (LinkageError noLog4jCore) {
      // Another logging back end: its own configuration decides.
      return false;
    }
  }
}
