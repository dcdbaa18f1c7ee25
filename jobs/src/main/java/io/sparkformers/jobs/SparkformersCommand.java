package io.sparkformers.jobs;

import io.sparkformers.accelerate.LaunchFailedException;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.Properties;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code sparkformers} command: the entry point of {@code ./sparkformers} and of
 * {@code spark-submit --class io.sparkformers.jobs.SparkformersCommand}. Subcommands are listed in the
 * annotation below; each lives in its own class in this package.
 */
@Command(
    name = "sparkformers",
    mixinStandardHelpOptions = true,
    versionProvider = SparkformersCommand.Version.class,
    description = "Train and evaluate models the Hugging Face way, on Apache Spark.",
    subcommands = {HelpCommand.class, BenchCommand.class, DatasetsCommand.class, GenerateCommand.class,
        TokenizerCommand.class,
        ScoreCommand.class, QuickstartCommand.class, TrainCommand.class, EvaluateCommand.class, ChatCommand.class,
        PeftCommand.class, ModelCommand.class})
public final class SparkformersCommand implements Runnable {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    // No subcommand: show what there is, and fail so that a scheduler notices a mistyped job.
    throw new CommandLine.ParameterException(spec.commandLine(), "Missing subcommand");
  }

  /** Builds the command line, with the exit codes of {@link ExitCodes}. */
  public static CommandLine commandLine() {
    CommandLine cli = new CommandLine(new SparkformersCommand());
    cli.setExecutionExceptionHandler(SparkformersCommand::reportFailure);
    return cli;
  }

  /**
   * A job stopped by bad input (a wrong key or value, a missing file or column: our errors name them) prints
   * that message alone, not a stack trace that buries it, and exits with its {@link ExitCodes} code; other
   * failures keep picocli's stack trace and exit 1. {@code SPARKFORMERS_STACKTRACE=1} always shows the trace.
   */
  static int reportFailure(Exception e, CommandLine cli, CommandLine.ParseResult parsed) throws Exception {
    Throwable bad = badInput(e);
    if (bad == null || System.getenv("SPARKFORMERS_STACKTRACE") != null) {
      throw e;
    }
    PrintWriter err = cli.getErr();
    err.println(ExitCodes.prefix(cli.getCommandSpec()) + ExitCodes.message(e));
    if (bad != e && !String.valueOf(e.getMessage()).contains(String.valueOf(bad.getMessage()))) {
      err.println("  caused by: " + bad.getMessage());
    }
    err.println("  (SPARKFORMERS_STACKTRACE=1 shows the stack trace)");
    err.flush();
    return ExitCodes.of(e);
  }

  /** The first bad-input error in the cause chain, or null. */
  static Throwable badInput(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
      // A failed launch's message is one line already: the failed rank and its own error.
      if (t instanceof IllegalArgumentException || t instanceof java.nio.file.NoSuchFileException
          || t instanceof java.io.FileNotFoundException || t instanceof LaunchFailedException) {
        return t;
      }
    }
    return null;
  }

  public static void main(String[] args) {
    io.sparkformers.accelerate.GpuDetection.quietProbeWithoutDriver();
    if (System.getenv("SPARKFORMERS_STACKTRACE") == null) {
      quietTaskFailureTraces();
    }
    int code = commandLine().execute(args);
    // This process ends here: stop a Spark a command left running (under spark-submit the job's context is
    // not stopped by the job itself, and System.exit would skip spark-submit's own stop).
    scala.Option<org.apache.spark.sql.SparkSession> spark = org.apache.spark.sql.SparkSession.getDefaultSession();
    if (spark.isDefined()) {
      spark.get().stop();
    }
    System.exit(code);
  }

  /**
   * Spark logs every failed task of a barrier stage with its stack trace (the scheduler's "Lost task", and in
   * an embedded Spark the executor's "Exception in task"): tens of lines per retry that bury the launcher's
   * one line about it. Only this command line quiets them; SPARKFORMERS_STACKTRACE=1 keeps them.
   */
  static void quietTaskFailureTraces() {
    try {
      org.apache.logging.log4j.core.config.Configurator.setLevel("org.apache.spark.scheduler.TaskSetManager",
          org.apache.logging.log4j.Level.ERROR);
      org.apache.logging.log4j.core.config.Configurator.setLevel("org.apache.spark.executor.Executor",
          org.apache.logging.log4j.Level.FATAL);
    } catch (LinkageError | RuntimeException notLog4j) {
      // Spark logging through another backend: its lines stay as they are.
    }
  }

  /** The versions baked into the jar at build time. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      Properties p = load();
      return new String[] {
        "sparkformers " + p.getProperty("version"),
        "Spark " + p.getProperty("spark.version") + ", DJL " + p.getProperty("djl.version")
            + ", Java " + System.getProperty("java.version")
      };
    }

    static Properties load() {
      Properties p = new Properties();
      try (InputStream in = SparkformersCommand.class.getResourceAsStream("version.properties")) {
        if (in == null) {
          throw new IllegalStateException("version.properties is missing from the jar");
        }
        p.load(in);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      return p;
    }
  }
}
