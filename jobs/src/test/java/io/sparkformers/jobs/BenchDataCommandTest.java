package io.sparkformers.jobs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import io.sparkformers.jobs.BenchDataCommand.BenchTask;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** bench data's generated dataset and its option checks (the measured run needs a local-cluster). */
class BenchDataCommandTest {
  @TempDir Path tmp;

  @Test
  void theGeneratedJsonlHasTheSizeAskedForAndTheSeedFixesIt() throws Exception {
    long[] a = BenchDataCommand.generate(BenchTask.CAUSAL_LM, tmp.resolve("a.jsonl"), 50_000, 3);
    long[] b = BenchDataCommand.generate(BenchTask.CAUSAL_LM, tmp.resolve("b.jsonl"), 50_000, 3);
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
  void tabularRowsAreSixteenNumbersAndAClassUnderAHeader() throws Exception {
    Path f = tmp.resolve("t.csv");
    long[] n = BenchDataCommand.generate(BenchTask.TABULAR_CLASSIFICATION, f, 20_000, 5);
    List<String> lines = Files.readAllLines(f);
    assertEquals(n[0] + 1, lines.size());
    assertEquals(n[1], Files.size(f));
    assertEquals("f0,f1,f2,f3,f4,f5,f6,f7,f8,f9,f10,f11,f12,f13,f14,f15,label", lines.get(0));
    java.util.Set<String> classes = new java.util.TreeSet<>();
    for (String line : lines.subList(1, lines.size())) {
      String[] cells = line.split(",");
      assertEquals(17, cells.length, line);
      for (int j = 0; j < 16; j++) {
        double v = Double.parseDouble(cells[j]);
        assertTrue(v >= -1.5 && v <= 1.5, line);
      }
      classes.add(cells[16]);
    }
    assertEquals(java.util.Set.of("c0", "c1", "c2", "c3"), classes);
  }

  @Test
  @SuppressWarnings("unchecked")
  void sequenceClassificationRowsAreTextAndOneOfTwoLabels() throws Exception {
    List<java.util.Map<String, Object>> rows = jsonRows(BenchTask.SEQUENCE_CLASSIFICATION);
    java.util.Map<String, Integer> labels = new java.util.TreeMap<>();
    for (java.util.Map<String, Object> row : rows) {
      assertEquals(java.util.Set.of("text", "label"), row.keySet(), row.toString());
      String text = (String) row.get("text");
      assertTrue(text.endsWith(".") && text.split(" ").length >= 8, text);
      // The label is the text's: its first word's length.
      assertEquals(text.indexOf(' ') % 4 < 2 ? "positive" : "negative", row.get("label"), text);
      labels.merge((String) row.get("label"), 1, Integer::sum);
    }
    assertEquals(List.of("negative", "positive"), List.copyOf(labels.keySet()));
    assertTrue(labels.get("negative") > rows.size() / 5 && labels.get("positive") > rows.size() / 5,
        labels.toString());
  }

  @Test
  @SuppressWarnings("unchecked")
  void sftRowsAreAUserAndAnAssistantMessage() throws Exception {
    for (java.util.Map<String, Object> row : jsonRows(BenchTask.SFT)) {
      List<java.util.Map<String, String>> messages = (List<java.util.Map<String, String>>) row.get("messages");
      assertEquals(List.of("user", "assistant"), messages.stream().map(m -> m.get("role")).toList(),
          row.toString());
      for (java.util.Map<String, String> m : messages) {
        int words = m.get("content").split(" ").length;
        assertTrue(words >= 4 && words < 24, row.toString());
      }
    }
  }

  /** About 20 KB of {@code task}'s generated JSON lines, each parsed; their count is the one generate returns. */
  @SuppressWarnings("unchecked")
  private List<java.util.Map<String, Object>> jsonRows(BenchTask task) throws Exception {
    Path f = tmp.resolve(task.configName + ".jsonl");
    long[] n = BenchDataCommand.generate(task, f, 20_000, 5);
    assertEquals(n[1], Files.size(f));
    List<java.util.Map<String, Object>> rows = new java.util.ArrayList<>();
    for (String line : Files.readAllLines(f)) {
      rows.add(new ObjectMapper().readValue(line, java.util.Map.class));
    }
    assertEquals(n[0], rows.size());
    return rows;
  }

  @Test
  void theSftTokenizerHasTheChatTemplate() throws Exception {
    Path tok = BenchTask.SFT.tokenizer(tmp.resolve("tok"));
    assertEquals(BenchDataCommand.CHAT_TEMPLATE, Files.readString(tok.resolve("chat_template.jinja")));
    String rendered = io.sparkformers.datasets.ChatTemplate.fromPretrained(tok).render(List.of(
        java.util.Map.of("role", "user", "content", "ka lo"), java.util.Map.of("role", "assistant", "content",
            "mi")), false);
    // transformers renders templates with trim_blocks: the newline after {% endif %} goes.
    assertEquals("<|user|> ka lo<|assistant|> mi<|endoftext|>", rendered);
    assertEquals(null, BenchTask.TABULAR_CLASSIFICATION.tokenizer(tmp.resolve("none")));
  }

  @Test
  void helpNamesTheTasks() {
    java.io.StringWriter out = new java.io.StringWriter();
    picocli.CommandLine cli = SparkformersCommand.commandLine();
    cli.setOut(new java.io.PrintWriter(out));
    assertEquals(0, cli.execute("bench", "data", "--help"));
    String help = out.toString().replaceAll("\\s+", " ");
    assertTrue(help.contains("--task=<task>"), help);
    for (String task : List.of("causal_lm", "tabular_classification", "sequence_classification", "sft")) {
      assertTrue(help.contains(task), task + " in " + help);
    }
  }

  @Test
  void badOptionsAreUsageErrors() {
    assertEquals(2, SparkformersCommand.commandLine().execute("bench", "data", "--task", "causal-lm"));
    assertEquals(2, SparkformersCommand.commandLine().execute("bench", "data", "--task", "sft", "--format",
        "parquet"));
    assertEquals(2, SparkformersCommand.commandLine().execute("bench", "data", "--gb", "0"));
    assertEquals(2, SparkformersCommand.commandLine().execute("bench", "data", "--format", "csv"));
    assertEquals(2, SparkformersCommand.commandLine().execute("bench", "data", "--ranks", "0"));
  }
}
