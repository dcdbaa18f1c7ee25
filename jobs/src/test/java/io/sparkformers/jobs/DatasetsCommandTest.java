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

class DatasetsCommandTest {
  @TempDir Path dir;
  private StringWriter out = new StringWriter();
  private StringWriter err = new StringWriter();

  private int run(String... args) {
    out = new StringWriter();
    err = new StringWriter();
    CommandLine cli = SparkformersCommand.commandLine();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    return cli.execute(args);
  }

  @Test
  void convertInfoAndHeadAFolderOfJsonLines() throws IOException {
    Files.writeString(dir.resolve("a.jsonl"), "{\"text\": \"héllo\", \"label\": 1, \"ids\": [3, 4]}\n"
        + "{\"text\": \"b\", \"label\": 0, \"ids\": []}\n{\"text\": null, \"label\": 1, \"ids\": [5]}\n");
    Path out1 = dir.resolve("ds");
    String cache = dir.resolve("cache").toString();
    assertEquals(0, run("datasets", "convert", "--format", "jsonl", dir.resolve("a.jsonl").toString(),
        "--output", out1.toString(), "--cache-dir", cache), err.toString());
    assertEquals("Wrote 3 rows {text: STRING, label: INT64, ids: INT64_LIST} to " + out1 + "\n", out.toString());

    assertEquals(0, run("datasets", "info", out1.toString()), err.toString());
    String[] info = out.toString().split("\n");
    assertEquals("rows: 3", info[0]);
    assertEquals("features: {text: STRING, label: INT64, ids: INT64_LIST}", info[1]);
    assertTrue(info[2].matches("fingerprint: [0-9a-f]{16}"), info[2]);
    assertTrue(info[3].matches("size: \\d+ bytes in 1 Arrow file"), info[3]);

    assertEquals(0, run("datasets", "head", out1.toString(), "-n", "2", "--json"), err.toString());
    assertEquals("{\"text\":\"héllo\",\"label\":1,\"ids\":[3,4]}\n{\"text\":\"b\",\"label\":0,\"ids\":[]}\n",
        out.toString());
    assertEquals(0, run("datasets", "head", out1.toString()), err.toString());
    assertEquals("text\tlabel\tids\nhéllo\t1\t[3, 4]\nb\t0\t[]\nnull\t1\t[5]\n", out.toString());
  }

  @Test
  void convertTakesTheFormatFromTheExtensionAsTrainDoes() throws IOException {
    String cache = dir.resolve("cache").toString();
    Path csv = Files.writeString(dir.resolve("t.csv"), "a,b\n1,x\n2,y\n");
    assertEquals(0, run("datasets", "convert", csv.toString(), "--output", dir.resolve("c").toString(),
        "--cache-dir", cache), err.toString());
    assertEquals("Wrote 2 rows {a: INT64, b: STRING} to " + dir.resolve("c") + "\n", out.toString());
    Path tsv = Files.writeString(dir.resolve("t.tsv"), "a\tb\n1\tx,z\n");
    assertEquals(0, run("datasets", "convert", tsv.toString(), "--output", dir.resolve("t").toString(),
        "--cache-dir", cache), err.toString());
    assertEquals("Wrote 1 rows {a: INT64, b: STRING} to " + dir.resolve("t") + "\n", out.toString());
    Path none = Files.writeString(dir.resolve("noext"), "a\n1\n");
    assertEquals(2, run("datasets", "convert", none.toString(), "--output", dir.resolve("n").toString()));
    assertTrue(err.toString().startsWith("--format is needed: '" + none + "' has no extension"), err.toString());
    Path odd = Files.writeString(dir.resolve("t.xlsx"), "a\n1\n");
    assertEquals(2, run("datasets", "convert", odd.toString(), "--output", dir.resolve("o").toString()));
    assertTrue(err.toString().startsWith("--format (from the extension of " + odd + "): Unknown format 'xlsx'"),
        err.toString());
  }

  @Test
  void badInputExitsOneWithTheFileAndLine() throws IOException {
    Path csv = dir.resolve("bad.csv");
    Files.writeString(csv, "a,b\n1,2\n3\"x,4,5\n");
    assertEquals(1, run("datasets", "convert", "--format", "csv", csv.toString(), "--output",
        dir.resolve("o").toString(), "--cache-dir", dir.resolve("cache").toString()));
    assertEquals("sparkformers datasets convert: file:" + csv + ": line 3: expected 2 fields (as in the header), found 3\n", err.toString());
    assertEquals(1, run("datasets", "info", dir.resolve("missing").toString()));
    assertEquals("sparkformers datasets info: " + dir.resolve("missing") + " is not a dataset folder: it has no state.json\n",
        err.toString());
  }

  @Test
  void anUnknownFormatIsAUsageError() {
    assertEquals(2, run("datasets", "convert", "--format", "xml", "in", "--output", "o"));
    assertTrue(err.toString().contains("Unknown format 'xml': expected csv, json, jsonl, parquet, arrow or text"),
        err.toString());
  }
}
