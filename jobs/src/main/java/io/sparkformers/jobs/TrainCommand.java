package io.sparkformers.jobs;

import io.sparkformers.jobs.train.ConfigReference;
import io.sparkformers.jobs.train.JobConfig;
import io.sparkformers.jobs.train.TrainJob;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Option;

/**
 * {@code sparkformers train --config conf/<job>.yaml [--set key=value ...]}: trains data-parallel as the job file
 * says, on embedded Spark or under {@code spark-submit}, and prints the final metrics.
 */
@Command(name = "train", mixinStandardHelpOptions = true,
    description = "Train a model data-parallel on Spark, as a YAML job file says.")
public final class TrainCommand implements Callable<Integer> {

  @Option(names = "--config", description = "the job file (YAML), e.g. conf/quickstart.yaml")
  Path config;

  @Option(names = "--list-keys", description = "print every key a job file may hold, with its type, default and"
      + " meaning, and exit")
  boolean listKeys;

  @Option(names = "--markdown", description = "with --list-keys: print the keys as the README's Markdown reference")
  boolean markdown;

  @Option(names = "--write-readme", paramLabel = "README", description = "with --list-keys: rewrite the"
      + " generated config reference section of this README (between its config-reference markers)")
  Path writeReadme;

  @Spec
  CommandSpec spec;

  @Option(names = "--set", description = "override a key: training_args.learning_rate=0.01, or a bare"
      + " TrainingArguments key such as num_train_epochs=2")
  List<String> overrides = new ArrayList<>();

  @Override
  public Integer call() throws Exception {
    if (listKeys) {
      if (writeReadme != null) {
        ConfigReference.writeReadme(writeReadme);
        System.out.println("Rewrote the config reference of " + writeReadme);
      } else {
        System.out.print(markdown ? ConfigReference.markdown() + System.lineSeparator() : ConfigReference.text());
      }
      return 0;
    }
    if (markdown || writeReadme != null) {
      throw new ParameterException(spec.commandLine(), "--markdown and --write-readme go with --list-keys");
    }
    if (config == null) {
      throw new ParameterException(spec.commandLine(), "Missing required option: '--config=<config>'");
    }
    return run(JobConfig.load(config, overrides));
  }

  static int run(JobConfig job) throws Exception {
    Map<String, Double> metrics = TrainJob.run(job);
    System.out.println();
    System.out.println("Final metrics (" + job.trainingArguments().outputDir() + "/metrics.json):");
    metrics.forEach((k, v) -> System.out.printf("  %-28s %s%n", k, v));
    System.out.println("Model: " + job.trainingArguments().outputDir() + "/model");
    return 0;
  }
}
