package io.sparkformers.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The benchmark runs end to end on tiny sizes (its timings are not checked: benchmarks are not timed tests). */
class BenchDatasetsCommandTest {
  @TempDir Path dir;

  @Test
  void runsEveryPartOnTinyInputsAndChecksItsSums() throws IOException {
    Path text = Files.createDirectories(dir.resolve("text"));
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < 200; i++) {
      s.append("Licensed under the Apache License, Version 2.0, line number ").append(i).append('\n');
    }
    Files.writeString(text.resolve("license.txt"), s.toString());
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cli = SparkformersCommand.commandLine();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    int code = cli.execute("bench", "datasets", "--gb", "0.002", "--seq-len", "64", "--repeats", "1", "--texts",
        "300", "--spark", "none", "--text-dir", text.toString(), "--dir", dir.resolve("work").toString());
    assertEquals(0, code, err.toString());
    String o = out.toString();
    assertTrue(o.contains("ids: 8389 rows x 64 token ids = 536896 ids"), o);
    assertTrue(o.contains("sum of token ids: int[] "), o);
    assertTrue(o.contains("tokenize, one thread: "), o);
    assertTrue(o.contains("streaming: time to the first batch (32 rows)"), o);
    assertTrue(o.contains("streaming: resumed at row "), o);
  }

  @Test
  void loadsOnSparkBothWaysAndSplitsTheSameNumberOfRows() throws IOException {
    Path text = Files.createDirectories(dir.resolve("text"));
    Files.writeString(text.resolve("license.txt"), "Licensed under the Apache License\nVersion 2.0\n");
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cli = SparkformersCommand.commandLine();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    // Each row {"id": i, "text": "...", "label": i % 3} and a newline.
    // One file of 214,748 bytes read as 4 ranges of 0.05 MiB.
    int code = cli.execute("bench", "datasets", "--gb", "0.0002", "--repeats", "1", "--skip", "sum,tokenize,stream",
        "--load-files", "1", "--range-mb", "0.05", "--spark", "local[2]", "--text-dir", text.toString(), "--dir", dir.resolve("work").toString());
    assertEquals(0, code, err.toString());
    String o = out.toString();
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d+) rows, split 80/20 into (\\d+) rows").matcher(o);
    assertTrue(m.find(), o);
    assertEquals(m.group(1), m.group(2), o);
    assertTrue(Long.parseLong(m.group(1)) > 1000, o);
    assertTrue(o.contains("load on Spark local[2]: 1 JSON-lines files, "), o);
    assertTrue(o.contains("load on Spark, range size 0.05 MiB"), o);
    assertTrue(o.contains("load on Spark, SparkDataset (rows on the executors): load "), o);
    assertTrue(o.contains("load on Spark, DatasetLoader (Arrow cache folder): load "), o);
  }
}
