package io.sparkformers.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkformers.accelerate.GpuDetection;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The JVM flags of the {@code ./sparkformers} launcher, in a JVM of their own running a command that loads
 * libtorch: no "Using incubator modules" warning, and no CUDA probe warning on a machine without an NVIDIA driver.
 */
class LauncherTest {
  private static final Path ROOT = Path.of(System.getProperty("sparkformers.root", "..")).toAbsolutePath().normalize();

  @TempDir Path tmp;

  /** The flags the script passes to java: the tokens from {@code exec java} up to {@code -cp}. */
  static List<String> launcherFlags() throws IOException {
    String script = Files.readString(ROOT.resolve("sparkformers"));
    String exec = script.substring(script.indexOf("exec java "), script.indexOf(" -cp "));
    List<String> flags = new ArrayList<>();
    for (String token : exec.substring("exec java ".length()).split("\\s+")) {
      if (token.startsWith("-")) {
        flags.add(token.replace("\"$root\"", ROOT.toString()).replace("$root", ROOT.toString()));
      }
    }
    return flags;
  }

  @Test
  void theLaunchersJvmPrintsNoIncubatorOrCudaProbeWarning() throws Exception {
    List<String> flags = launcherFlags();
    assertTrue(flags.contains("--add-opens=java.base/java.nio=ALL-UNNAMED"), flags.toString());
    assertFalse(flags.stream().anyMatch(f -> f.contains("jdk.incubator")), flags.toString());
    Path model = Files.createDirectories(tmp.resolve("mlp"));
    Files.writeString(model.resolve("config.json"), "{\"model_type\": \"mlp\", \"input_size\": 4,"
        + " \"hidden_sizes\": [8], \"num_labels\": 3}");
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(flags);
    command.addAll(List.of("-cp", System.getProperty("java.class.path"), SparkformersCommand.class.getName(),
        "model", "init", model.toString()));
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
    pb.environment().remove("CUDA_VISIBLE_DEVICES");
    Process p = pb.start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), output);
    assertTrue(Files.isRegularFile(model.resolve("model.safetensors")), output);
    assertFalse(output.contains("Using incubator modules"), output);
    if (!GpuDetection.driverPresent()) {
      assertFalse(output.contains("Failed to detect GPU count"), output);
    }
  }
}
