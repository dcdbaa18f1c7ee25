package io.sparkformers.jobs;

import io.sparkformers.jobs.train.JobConfig;
import io.sparkformers.jobs.train.TrainJob;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import io.sparkformers.training.TrainingArguments;
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

  @Option(names = "--list-keys", description = "print every key a job file may hold, with its meaning, and exit")
  boolean listKeys;

  @Spec
  CommandSpec spec;

  @Option(names = "--set", description = "override a key: training_args.learning_rate=0.01, or a bare"
      + " TrainingArguments key such as num_train_epochs=2")
  List<String> overrides = new ArrayList<>();

  @Override
  public Integer call() throws Exception {
    if (listKeys) {
      for (JobConfig.Key k : JobConfig.KEYS) {
        System.out.printf("  %-22s %s%n", k.path(), k.doc());
      }
      System.out.printf("  %-22s %s%n", "training_args.*", "TrainingArguments: " + TrainingArguments.keys());
      return 0;
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
