package io.sparkformers.accelerate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.config.Configurator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** DJL's CUDA probe warns only where a GPU can be: with a driver, or GPUs named by CUDA_VISIBLE_DEVICES. */
class GpuDetectionTest {
  private final Level before = LogManager.getLogger(GpuDetection.PROBE_LOGGER).getLevel();

  @AfterEach
  void restore() {
    Configurator.setLevel(GpuDetection.PROBE_LOGGER, before);
  }

  @Test
  void withoutADriverTheProbesWarningsAreLowered() {
    Configurator.setLevel(GpuDetection.PROBE_LOGGER, Level.INFO);
    assertTrue(GpuDetection.quietProbe(false, null));
    assertEquals(Level.ERROR, LogManager.getLogger(GpuDetection.PROBE_LOGGER).getLevel());
    assertFalse(LogManager.getLogger(GpuDetection.PROBE_LOGGER).isWarnEnabled());
  }

  @Test
  void withADriverOrAskedForGpusTheyStay() {
    Configurator.setLevel(GpuDetection.PROBE_LOGGER, Level.INFO);
    assertFalse(GpuDetection.quietProbe(true, null));
    assertFalse(GpuDetection.quietProbe(false, "0,1"));
    assertTrue(GpuDetection.quietProbe(false, " "));
    Configurator.setLevel(GpuDetection.PROBE_LOGGER, Level.INFO);
    assertFalse(GpuDetection.quietProbe(true, ""));
    assertTrue(LogManager.getLogger(GpuDetection.PROBE_LOGGER).isWarnEnabled());
  }
}
