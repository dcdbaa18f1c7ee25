package io.sparkformers.jobs;

import io.sparkformers.jobs.train.ConfigReference;
import io.sparkformers.jobs.train.JobConfig;
import io.sparkformers.jobs.train.TrainJob;
import java.io.IOException;
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

  @Option(names = "--result-json", paramLabel = "FILE", description = "write the outcome as JSON when the job"
      + " ends, succeeded or failed (status, exit_code, metrics, output paths, error): a local path or a Hadoop"
      + " URI such as s3a://bucket/run.json, for a scheduler (Airflow XCom)")
  String resultJson;

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
    return run(spec, resultJson, () -> JobConfig.load(config, overrides));
  }

  /** Reads a job file (any error in it is a usage error). */
  interface JobSource {
    JobConfig load() throws Exception;
  }

  /**
   * Loads and runs a job, prints its final metrics and, with {@code resultJson}, writes the result file: at the
   * end, or when the job fails (then with the error line, and the failure goes on to the exit code).
   */
  static int run(CommandSpec spec, String resultJson, JobSource source) throws Exception {
    ResultFile result = new ResultFile(spec.qualifiedName());
    JobConfig job = null;
    try {
      try {
        job = source.load();
      } catch (IllegalArgumentException e) {
        throw e instanceof UsageException ? e : new UsageException(e.getMessage(), e);
      }
      String out = job.trainingArguments().outputDir();
      result.put("config", job.source()).put("output_dir", out);
      Map<String, Double> metrics = TrainJob.run(job);
      System.out.println();
      System.out.println("Final metrics (" + out + "/metrics.json):");
      metrics.forEach((k, v) -> System.out.printf("  %-28s %s%n", k, v));
      System.out.println("Model: " + out + "/model");
      result.put("model_dir", out + "/model").put("metrics_file", out + "/metrics.json")
          .put("log_history_file", out + "/log_history.jsonl").put("metrics", metrics);
      if (resultJson != null) {
        result.write(resultJson, ExitCodes.OK, null, job.hadoop());
      }
      return ExitCodes.OK;
    } catch (Exception | Error e) {
      if (resultJson != null) {
        try {
          result.write(resultJson, ExitCodes.of(e), e, job == null ? Map.of() : job.hadoop());
        } catch (IOException | RuntimeException w) {
          e.addSuppressed(w);
          spec.commandLine().getErr().println(spec.qualifiedName() + ": could not write --result-json "
              + resultJson + ": " + w.getMessage());
        }
      }
      throw e;
    }
  }
}
