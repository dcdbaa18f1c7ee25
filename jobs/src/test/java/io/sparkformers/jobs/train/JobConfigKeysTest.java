package io.sparkformers.jobs.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkformers.accelerate.DeviceSelection;
import io.sparkformers.accelerate.ProcessGroupOptions;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The declared keys of a job file: defaults, the process_group section, ddp_backend and ddp_timeout. */
class JobConfigKeysTest {
  static final String YAML = JobConfigTest.YAML;

  static String error(String yaml, String... overrides) {
    return JobConfigTest.error(yaml, overrides);
  }

  @Test
  void defaultsComeFromTheDeclarations() {
    JobConfig c = JobConfig.parse(YAML, "job.yaml", List.of());
    assertEquals(true, c.header());
    assertEquals("text", c.textColumn());
    assertEquals(1.0f, c.featureScale());
    assertEquals(128, c.maxSeqLength());
    assertEquals(null, c.blockSize());
    assertEquals(0.2, c.testSize());
    assertEquals(5, c.validationSplitPercentage());
    assertEquals(42, c.splitSeed());
    assertEquals(true, c.useSpark());
    assertEquals(List.of(), c.metrics());
    assertEquals(List.of(), c.featureColumns());
    assertEquals(java.util.Map.of(), c.hadoop());
    assertEquals(1, JobConfig.parse(YAML.replace("world_size: 2\n", ""), "job.yaml", List.of()).worldSize());
    assertEquals(DeviceSelection.Mode.AUTO, c.device());
    assertEquals(DeviceSelection.Mode.CUDA, JobConfig.parse(YAML, "job.yaml", List.of("device=cuda")).device());
    assertTrue(error(YAML, "device=gpu").contains("gpu is not a valid Mode"), error(YAML, "device=gpu"));
  }

  @Test
  void theProcessGroupGetsTheSectionTheBackendAndTheTimeout() {
    ProcessGroupOptions d = JobConfig.parse(YAML, "job.yaml", List.of()).processGroupOptions();
    assertEquals("auto", d.backend(), "nccl on a GPU, else tcp");
    assertEquals(Duration.ofSeconds(1800), d.timeout(), "transformers' ddp_timeout");
    assertEquals(ProcessGroupOptions.defaults().sharedMemoryArenaBytes(), d.sharedMemoryArenaBytes());
    ProcessGroupOptions o = JobConfig.parse(YAML + "process_group:\n  shared_memory_arena_bytes: 1048576\n"
        + "  shared_memory: false\n", "job.yaml", List.of("ddp_timeout=60", "process_group.ring_threshold_bytes=0"))
        .processGroupOptions();
    assertEquals(Duration.ofSeconds(60), o.timeout());
    assertEquals(1 << 20, o.sharedMemoryArenaBytes());
    assertEquals(false, o.sharedMemory());
    assertEquals(0, o.ringThresholdBytes());
  }

  @Test
  void badProcessGroupKeysAndValuesAreNamed() {
    String e = error(YAML, "process_group.shared_memory_arena_byte=1");
    assertTrue(e.startsWith("job.yaml: unknown key 'process_group.shared_memory_arena_byte' — did you mean"
        + " 'process_group.shared_memory_arena_bytes'?"), e);
    assertEquals("job.yaml: key 'process_group.shared_memory': expected true or false, got 'sometimes'",
        error(YAML, "process_group.shared_memory=sometimes"));
    assertEquals("job.yaml: key 'process_group': expected a mapping, got '3'", error(YAML, "process_group=3"));
    assertTrue(error(YAML, "procss_group.shared_memory=true").contains("unknown key 'procss_group' — did you mean"
        + " 'process_group'?"));
    assertTrue(error(YAML, "ddp_backend=gloo").contains("gloo is not a valid DdpBackend"));
  }

  @Test
  void topLevelAndModelKeysAreChecked() {
    assertEquals("job.yaml: key 'world_size': expected a positive integer, got '0'", error(YAML, "world_size=0"));
    assertEquals("job.yaml: key 'metrics': expected a list of metric names, got 'accuracy'",
        error(YAML, "metrics=accuracy"));
    assertEquals("job.yaml: section 'data' is required", error("model: {path: m}\n"));
    assertTrue(error(YAML, "model.paht=x").contains("unknown key 'model.paht' — did you mean 'model.path'?"));
    assertEquals("job.yaml: key 'data.validation_split_percentage': expected an integer percent from 1 to 99, got"
        + " '100'", error(YAML.replace("mlp", "gpt2"), "data.validation_split_percentage=100"));
  }

  @Test
  void theKeysListEveryDeclaredSectionKey() {
    List<String> paths = JobConfig.KEYS.stream().map(JobConfig.Key::path).toList();
    assertTrue(paths.containsAll(List.of("task", "world_size", "process_group", "model.path", "data.train_file",
        "data.hadoop", "process_group.shared_memory_arena_bytes")), paths.toString());
  }

  @Test
  void serialisesForTheRanks() throws Exception {
    JobConfig c = JobConfig.parse(YAML, "job.yaml", List.of("data.hadoop={fs.s3a.endpoint: x}",
        "metrics=[accuracy]"));
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(c);
    }
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      JobConfig back = (JobConfig) in.readObject();
      assertEquals(c.hadoop(), back.hadoop());
      assertEquals(List.of("accuracy"), back.metrics());
      assertEquals(c.processGroupOptions().toString(), back.processGroupOptions().toString());
    }
  }
}
