package io.sparkformers.accelerate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ProcessGroupOptionsTest {

  static String error(Map<String, ?> values) {
    return assertThrows(IllegalArgumentException.class, () -> ProcessGroupOptions.fromMap(values, "job.yaml"))
        .getMessage();
  }

  @Test
  void theDeclaredDefaultsAreTheBuildersDefaults() {
    ProcessGroupOptions d = ProcessGroupOptions.defaults();
    assertEquals("tcp", d.backend());
    assertEquals(Duration.ofMinutes(5), d.timeout());
    assertEquals(256 * 1024, d.ringThresholdBytes());
    assertEquals(true, d.sharedMemory());
    assertEquals(1L << 30, d.sharedMemoryArenaBytes());
    assertEquals(d.toString(), ProcessGroupOptions.fromMap(Map.of(), "job.yaml").toString());
    assertEquals(List.of("ring_threshold_bytes", "shared_memory", "shared_memory_arena_bytes"),
        List.copyOf(ProcessGroupOptions.definition().names()));
  }

  @Test
  void aProcessGroupSectionSetsTheOptions() {
    ProcessGroupOptions o = ProcessGroupOptions.fromMap(Map.of("ring_threshold_bytes", 1024, "shared_memory", "false",
        "shared_memory_arena_bytes", 1L << 20), "job.yaml");
    assertEquals(1024, o.ringThresholdBytes());
    assertEquals(false, o.sharedMemory());
    assertEquals(1L << 20, o.sharedMemoryArenaBytes());
  }

  @Test
  void badValuesNameTheKey() {
    assertEquals("job.yaml: unknown key 'process_group.shared_memroy' — did you mean 'process_group.shared_memory'?"
        + " (valid keys: [ring_threshold_bytes, shared_memory, shared_memory_arena_bytes])",
        error(Map.of("shared_memroy", true)));
    assertEquals("job.yaml: key 'process_group.shared_memory': expected true or false, got 'often'",
        error(Map.of("shared_memory", "often")));
    assertEquals("job.yaml: sharedMemoryArenaBytes must be between 0 and 2147479552, got 4294967296",
        error(Map.of("shared_memory_arena_bytes", 1L << 32)));
    assertEquals("job.yaml: ringThresholdBytes must be >= 0, got -1", error(Map.of("ring_threshold_bytes", -1)));
    assertEquals("ringThresholdBytes must be >= 0, got -1", assertThrows(IllegalArgumentException.class,
        () -> ProcessGroupOptions.builder().ringThresholdBytes(-1)).getMessage());
  }
}
