package io.sparkformers.jobs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** bench data's generated dataset and its option checks (the measured run needs a local-cluster). */
class BenchDataCommandTest {
  @TempDir Path tmp;

  @Test
  void theGeneratedJsonlHasTheSizeAskedForAndTheSeedFixesIt() throws Exception {
    long[] a = BenchDataCommand.generate(tmp.resolve("a.jsonl"), 50_000, 3);
    long[] b = BenchDataCommand.generate(tmp.resolve("b.jsonl"), 50_000, 3);
    assertArrayEquals(a, b);
    assertEquals(a[1], Files.size(tmp.resolve("a.jsonl")));
    assertTrue(a[1] >= 50_000 && a[1] < 50_000 + 1000, "one line past the size at most: " + a[1]);
    assertArrayEquals(Files.readAllBytes(tmp.resolve("a.jsonl")), Files.readAllBytes(tmp.resolve("b.jsonl")));
    List<String> lines = Files.readAllLines(tmp.resolve("a.jsonl"));
    assertEquals(a[0], lines.size());
    String text = (String) new ObjectMapper().readValue(lines.get(0), java.util.Map.class).get("text");
    assertTrue(text.endsWith(".") && text.split(" ").length >= 8, text);
  }

  @Test
  void badOptionsAreUsageErrors() {
    assertEquals(2, SparkformersCommand.commandLine().execute("bench", "data", "--gb", "0"));
    assertEquals(2, SparkformersCommand.commandLine().execute("bench", "data", "--format", "csv"));
    assertEquals(2, SparkformersCommand.commandLine().execute("bench", "data", "--ranks", "0"));
  }
}
