package io.sparkformers.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** Each documented exit code, from a real command line, and its one-line message. */
class ExitCodesTest {
  @TempDir Path tmp;
  private final StringWriter err = new StringWriter();

  private int run(String... args) {
    CommandLine cli = SparkformersCommand.commandLine();
    cli.setErr(new PrintWriter(err));
    cli.setOut(new PrintWriter(new StringWriter()));
    return cli.execute(args);
  }

  private static String conf(String name) {
    return Path.of("..", "conf", name).toString();
  }

  @Test
  void theCodesAreDistinct() {
    assertEquals(java.util.List.of(0, 1, 2, 3), java.util.List.of(ExitCodes.OK, ExitCodes.FAILED, ExitCodes.USAGE,
        ExitCodes.INPUT_MISSING));
  }

  @Test
  void aSetWithoutAnEqualsSignIsAUsageError() {
    assertEquals(ExitCodes.USAGE, run("train", "--config", conf("quickstart.yaml"), "--set", "foo"));
    assertEquals("sparkformers train: --set foo: expected key=value", err.toString().lines().findFirst().get());
  }

  @Test
  void aMissingJobFileAndAnUnknownKeyAreUsageErrors() {
    Path none = tmp.resolve("none.yaml");
    assertEquals(ExitCodes.USAGE, run("train", "--config", none.toString()));
    assertTrue(err.toString().startsWith("sparkformers train: " + none + ": no such config file"), err.toString());
    assertEquals(ExitCodes.USAGE, run("train", "--config", conf("quickstart.yaml"), "--set", "wrld_size=2"));
    assertTrue(err.toString().contains("did you mean 'world_size'?"), err.toString());
  }

  @Test
  void aWorldSizeTheQuickstartsMasterCannotGiveIsOneLineBeforeSparkStarts() {
    assertEquals(ExitCodes.USAGE, run("quickstart", "--output", tmp.resolve("qs").toString(), "--set",
        "world_size=4"));
    assertEquals("sparkformers quickstart: quickstart.yaml: key 'world_size': 4 ranks need 4 task slots at once (a"
        + " barrier stage), but master local[2] can never give more than 2; set world_size to at most 2 or"
        + " spark_master to local[4]", err.toString().lines().findFirst().get());
    assertTrue(org.apache.spark.sql.SparkSession.getActiveSession().isEmpty()
        && org.apache.spark.sql.SparkSession.getDefaultSession().isEmpty(), "no Spark was started");
  }

  @Test
  void aMissingInputIsItsOwnCode() {
    Path missing = tmp.resolve("no/data.csv");
    assertEquals(ExitCodes.INPUT_MISSING, run("train", "--config", conf("tabular-classification.yaml"), "--set",
        "data.train_file=" + missing, "--set", "training_args.output_dir=" + tmp.resolve("out")));
    assertTrue(err.toString().startsWith("sparkformers train: " + conf("tabular-classification.yaml")
        + ": key 'data.train_file': No file found at " + missing), err.toString());
    assertFalse(err.toString().contains("\tat "), err.toString());
    // Other commands map a missing file the same way.
    assertEquals(ExitCodes.INPUT_MISSING, run("evaluate", "--input", tmp.resolve("no.jsonl").toString(),
        "--metrics", "accuracy"));
  }

  @Test
  void badDataFailsTheJobWithOne() throws IOException {
    // Found only when the rows are read (a label outside num_labels), after Spark started: the job failed.
    Path data = tmp.resolve("t.csv");
    Files.writeString(data, "sepal_length,sepal_width,petal_length,petal_width,species\n1,2,3,4,0\n1,2,3,4,1\n"
        + "1,2,3,4,7\n1,2,3,4,0\n1,2,3,4,1\n");
    assertEquals(ExitCodes.FAILED, run("train", "--config", conf("tabular-classification.yaml"), "--set",
        "data.train_file=" + data, "--set", "data.use_spark=false", "--set", "data.cache_dir=" + tmp.resolve("cache"),
        "--set", "training_args.output_dir=" + tmp.resolve("out")));
    assertTrue(err.toString().startsWith("sparkformers train: "), err.toString());
    assertTrue(err.toString().contains("species"), err.toString());
  }
}
