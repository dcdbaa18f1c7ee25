package io.sparkformers.jobs;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code sparkformers bench ...}: runnable benchmarks that people quote, each a subcommand listed below.
 * Benchmarks print medians (and JSON lines with {@code --json}); they are never run as timed tests.
 */
@Command(
    name = "bench",
    mixinStandardHelpOptions = true,
    description = "Run a benchmark and print its measurements.",
    subcommands = {BenchAllReduceCommand.class, BenchModelsCommand.class, BenchEvaluateCommand.class,
        BenchTrainCommand.class, BenchDatasetsCommand.class, BenchLoadCommand.class, BenchDataCommand.class})
public final class BenchCommand implements Runnable {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "Missing benchmark: name one of "
        + spec.subcommands().keySet());
  }
}
