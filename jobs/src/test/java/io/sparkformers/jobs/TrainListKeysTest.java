package io.sparkformers.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkformers.jobs.train.ConfigReference;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code train --list-keys}: type, default and documentation of every key; Markdown for the README. */
class TrainListKeysTest {
  @TempDir Path tmp;

  static String out(String... args) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream old = System.out;
    System.setOut(new PrintStream(bytes, true, StandardCharsets.UTF_8));
    try {
      assertEquals(0, SparkformersCommand.commandLine().execute(args));
    } finally {
      System.setOut(old);
    }
    return bytes.toString(StandardCharsets.UTF_8);
  }

  @Test
  void listKeysPrintsTypeDefaultAndDocumentation() {
    String out = out("train", "--list-keys");
    assertEquals(ConfigReference.text(), out);
    assertTrue(out.contains(String.format("  %-40s %-16s default: %s%n      %s%n", "training_args.learning_rate",
        "double", "5.0E-5", "the initial learning rate (the peak, after warmup)")), out);
    assertTrue(out.contains(String.format("  %-40s %-16s default: %s%n", "data.max_seq_length", "int", "128")), out);
    assertTrue(out.contains("process_group.* — the process group the ranks all-reduce through\n"), out);
  }

  @Test
  void markdownIsTheReadmeSection() {
    assertEquals(ConfigReference.markdown() + System.lineSeparator(), out("train", "--list-keys", "--markdown"));
  }

  @Test
  void writeReadmeReplacesTheSection() throws IOException {
    Path readme = tmp.resolve("README.md");
    Files.writeString(readme, "# x\n" + ConfigReference.BEGIN + "\nold\n" + ConfigReference.END + "\n");
    out("train", "--list-keys", "--write-readme", readme.toString());
    assertEquals("# x\n" + ConfigReference.markdown() + "\n", Files.readString(readme));
  }

  @Test
  void markdownWithoutListKeysIsAUsageError() {
    assertEquals(2, SparkformersCommand.commandLine().execute("train", "--markdown"));
  }
}
