package io.sparkformers.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** Runs the Trainer benchmark at its smallest (one rank, three MLP steps) to prove it runs; it times nothing. */
class BenchTrainCommandTest {

  private static int run(StringWriter out, StringWriter err, String... args) {
    CommandLine cli = SparkformersCommand.commandLine();
    cli.setOut(new PrintWriter(out, true));
    cli.setErr(new PrintWriter(err, true));
    return cli.execute(args);
  }

  @Test
  void smallestRunPrintsTheStepBreakdownAndThroughput() {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    java.io.PrintStream stdout = System.out;
    java.io.ByteArrayOutputStream printed = new java.io.ByteArrayOutputStream();
    System.setOut(new java.io.PrintStream(printed, true));
    try {
      assertEquals(0, run(out, err, "bench", "train", "--models", "mlp", "--ranks", "1", "--repeats", "1",
          "--mlp-steps", "3", "--mlp-warmup", "1", "--threads", "1"), err.toString());
    } finally {
      System.setOut(stdout);
    }
    String text = printed.toString();
    Matcher m = Pattern.compile("mlp/ranks=1 +step +([0-9.]+) ms .*samples/s +([0-9.]+) .*threads/rank 1 ")
        .matcher(text);
    assertTrue(m.find(), text);
    double stepMs = Double.parseDouble(m.group(1));
    // 64 rows per step: the throughput is the rows over the median step time.
    assertEquals(64 / (stepMs / 1e3), Double.parseDouble(m.group(2)), 64 / (stepMs / 1e3) * 0.01, text);
  }

  @Test
  void loraAllReducesOnlyTheAdapterBytes() {
    StringWriter err = new StringWriter();
    java.io.PrintStream stdout = System.out;
    java.io.ByteArrayOutputStream printed = new java.io.ByteArrayOutputStream();
    System.setOut(new java.io.PrintStream(printed, true));
    try {
      assertEquals(0, run(new StringWriter(), err, "bench", "train", "--lora", "--ranks", "2", "--repeats", "1",
          "--gpt-steps", "1", "--gpt-warmup", "0"), err.toString());
    } finally {
      System.setOut(stdout);
    }
    String text = printed.toString();
    // The small llama has 6,998,272 parameters; its adapter (r 16 on q_proj 256→256 and v_proj 256→128, 4 layers)
    // 4 · (16·256 + 256·16 + 16·256 + 128·16) = 57,344: float32 bytes of each, all-reduced every step.
    assertTrue(text.contains("llama/ranks=2") && text.contains("all-reduced 27,993,088 bytes/step"), text);
    assertTrue(text.contains("llama-lora/ranks=2") && text.contains("all-reduced 229,376 bytes/step"), text);
  }

  @Test
  void overlapOnAndOffRunInterleavedAndOnlyOnLaunchesDuringBackward() {
    StringWriter err = new StringWriter();
    java.io.PrintStream stdout = System.out;
    java.io.ByteArrayOutputStream printed = new java.io.ByteArrayOutputStream();
    System.setOut(new java.io.PrintStream(printed, true));
    try {
      assertEquals(0, run(new StringWriter(), err, "bench", "train", "--models", "llama", "--ranks", "2",
          "--overlap", "on,off", "--bucket-cap-mb", "4", "--repeats", "1", "--gpt-steps", "1", "--gpt-warmup", "1"),
          err.toString());
    } finally {
      System.setOut(stdout);
    }
    String text = printed.toString();
    Matcher on = Pattern.compile("\\[rep 0\\] llama/ranks=2/overlap .*registered buckets \\d+/(\\d+) .*"
        + "launched during backward ([0-9.]+)/step").matcher(text);
    Matcher off = Pattern.compile("\\[rep 0\\] llama/ranks=2/no-overlap .*launched during backward ([0-9.]+)/step")
        .matcher(text);
    assertTrue(on.find() && off.find(), text);
    // 4 MiB buckets of the untied llama (28 MB): all but the one holding the token embedding go during backward.
    assertEquals(Integer.parseInt(on.group(1)) - 1, Double.parseDouble(on.group(2)), 0.0, text);
    assertEquals(0.0, Double.parseDouble(off.group(1)), 0.0, text);
  }

  @Test
  void badValuesAreUsageErrors() {
    StringWriter err = new StringWriter();
    assertEquals(2, run(new StringWriter(), err, "bench", "train", "--models", "bert"));
    assertTrue(err.toString().contains("unknown model 'bert' (expected mlp, gpt, llama, llama-lora)"),
        err.toString());
    assertEquals(2, run(new StringWriter(), err, "bench", "train", "--threads", "-1"));
    assertTrue(err.toString().contains("--threads at least 0"), err.toString());
    assertEquals(2, run(new StringWriter(), err, "bench", "train", "--overlap", "yes"));
    assertTrue(err.toString().contains("--overlap takes on and off, got [yes]"), err.toString());
  }
}
