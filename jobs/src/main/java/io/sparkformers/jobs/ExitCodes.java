package io.sparkformers.jobs;

import io.sparkformers.jobs.train.InputMissingException;
import java.io.PrintWriter;
import picocli.CommandLine;

/**
 * The exit codes of every {@code sparkformers} command, for schedulers (Airflow, cron, spark-submit wrappers):
 * each names what to do next, so a retry policy can tell them apart.
 */
public final class ExitCodes {
  private ExitCodes() {}

  /** The command did what it was asked. */
  public static final int OK = 0;
  /** The job failed: bad data in a file, a failed Spark stage, an error of the job itself. */
  public static final int FAILED = 1;
  /**
   * A usage error: an unknown option, a missing argument, a job file or {@code --set} override that is wrong
   * (unknown key, bad value). Running it again unchanged fails again.
   */
  public static final int USAGE = 2;
  /**
   * An input the command names does not exist (yet): a data file, model folder, tokenizer. A scheduler may wait
   * for it and retry.
   */
  public static final int INPUT_MISSING = 3;

  /** The exit code of a failure: the first usage or missing-input error in its cause chain decides. */
  public static int of(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof UsageException || t instanceof CommandLine.ParameterException) {
        return USAGE;
      }
      if (t instanceof InputMissingException || t instanceof java.nio.file.NoSuchFileException
          || t instanceof java.io.FileNotFoundException) {
        return INPUT_MISSING;
      }
    }
    return FAILED;
  }

  /**
   * Prints a failure as every command does, one line {@code sparkformers <command>: <message>} on the command's
   * error stream, and returns its exit code.
   */
  public static int report(CommandLine.Model.CommandSpec spec, Throwable e) {
    PrintWriter err = spec.commandLine().getErr();
    err.println(prefix(spec) + message(e));
    err.flush();
    return of(e);
  }

  /** {@code "sparkformers datasets convert: "}: the command's full name. */
  static String prefix(CommandLine.Model.CommandSpec spec) {
    return spec.qualifiedName() + ": ";
  }

  /** The message, or the exception's class when it has none (an NPE must still say something). */
  static String message(Throwable e) {
    String m = e.getMessage();
    return m == null || m.isBlank() ? e.getClass().getName() : m;
  }
}
