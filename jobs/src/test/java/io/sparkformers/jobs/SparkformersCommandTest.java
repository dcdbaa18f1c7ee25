package io.sparkformers.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class SparkformersCommandTest {

  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  private int run(String... args) {
    CommandLine cli = SparkformersCommand.commandLine();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    return cli.execute(args);
  }

  @Test
  void versionNamesTheBuiltVersionAndSpark() {
    assertEquals(0, run("--version"));
    String[] lines = out.toString().split("\n");
    assertEquals("sparkformers 0.1.0-SNAPSHOT", lines[0]);
    assertTrue(lines[1].startsWith("Spark 4.0.1, DJL 0.36.0, Java "), lines[1]);
  }

  @Test
  void helpListsUsageAndTheHelpSubcommand() {
    assertEquals(0, run("--help"));
    assertTrue(out.toString().startsWith("Usage: sparkformers [-hV] [COMMAND]"), out.toString());
    assertTrue(out.toString().contains("help "), out.toString());
  }

  @Test
  void noSubcommandIsAUsageError() {
    assertEquals(2, run());
    assertTrue(err.toString().contains("Missing subcommand"), err.toString());
  }

  @Test
  void unknownOptionIsAUsageErrorNamingIt() {
    assertEquals(2, run("--frobnicate"));
    assertTrue(err.toString().contains("Unknown option: '--frobnicate'"), err.toString());
  }

  @Test
  void benchWithoutABenchmarkNameIsAUsageError() {
    assertEquals(2, run("bench"));
    assertTrue(err.toString().contains("Missing benchmark"), err.toString());
  }

  @Test
  void aFailedLaunchIsReportedInItsOneLine() throws Exception {
    io.sparkformers.accelerate.LaunchFailedException launch = new io.sparkformers.accelerate.LaunchFailedException(
        "the barrier stage of 2 ranks failed on rank 1 after 4 attempts: rank 1's executor was lost",
        1, new IllegalStateException("Spark's report\n\tat some.Frame(Frame.java:1)"));
    CommandLine cli = SparkformersCommand.commandLine();
    cli.setErr(new PrintWriter(err));
    int code = SparkformersCommand.reportFailure(launch, cli, null);
    assertEquals(1, code);
    assertEquals("sparkformers: the barrier stage of 2 ranks failed on rank 1 after 4 attempts: rank 1's"
        + " executor was lost\n  (SPARKFORMERS_STACKTRACE=1 shows the stack trace)\n", err.toString());
  }

  @Test
  void theCommandLineQuietsSparksPerTaskFailureTraces() {
    org.apache.logging.log4j.core.LoggerContext context =
        (org.apache.logging.log4j.core.LoggerContext) org.apache.logging.log4j.LogManager.getContext(false);
    String tsm = "org.apache.spark.scheduler.TaskSetManager";
    String executor = "org.apache.spark.executor.Executor";
    org.apache.logging.log4j.Level tsmBefore = context.getLogger(tsm).getLevel();
    org.apache.logging.log4j.Level executorBefore = context.getLogger(executor).getLevel();
    try {
      SparkformersCommand.quietTaskFailureTraces();
      // "Lost task ... <stack trace>" is a WARN of the scheduler, "Exception in task" an ERROR of the executor.
      assertTrue(!context.getLogger(tsm).isWarnEnabled() && context.getLogger(tsm).isErrorEnabled());
      assertTrue(!context.getLogger(executor).isErrorEnabled() && context.getLogger(executor).isFatalEnabled());
    } finally {
      org.apache.logging.log4j.core.config.Configurator.setLevel(tsm, tsmBefore);
      org.apache.logging.log4j.core.config.Configurator.setLevel(executor, executorBefore);
    }
  }
}
