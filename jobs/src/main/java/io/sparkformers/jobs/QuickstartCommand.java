package io.sparkformers.jobs;

import io.sparkformers.jobs.train.JobConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code sparkformers quickstart}: the job of {@code conf/quickstart.yaml} (kept in the jar): an MLP on the
 * digits dataset, two data-parallel ranks on an embedded {@code local[2]} Spark, evaluated with the evaluate
 * module; the model, checkpoints and metrics.json land in {@code output/quickstart}.
 */
@Command(name = "quickstart", mixinStandardHelpOptions = true,
    description = "Train a small model on a real dataset with two data-parallel ranks on embedded Spark.")
public final class QuickstartCommand implements Callable<Integer> {

  @Option(names = "--output", description = "output folder (default: output/quickstart)")
  String output;

  @Option(names = "--set", description = "override a key of conf/quickstart.yaml, e.g. num_train_epochs=2")
  List<String> overrides = new ArrayList<>();

  @Option(names = "--result-json", paramLabel = "FILE", description = "write the outcome as JSON when the job"
      + " ends (as train --result-json): a local path or a Hadoop URI")
  String resultJson;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    List<String> all = new ArrayList<>(overrides);
    if (output != null) {
      all.add("training_args.output_dir=" + output);
    }
    return TrainCommand.run(spec, resultJson, () -> config(all));
  }

  /** The quickstart job, from the copy of conf/quickstart.yaml in the jar. */
  static JobConfig config(List<String> overrides) throws IOException {
    try (InputStream in = QuickstartCommand.class.getResourceAsStream("quickstart.yaml")) {
      if (in == null) {
        throw new IOException("quickstart.yaml is missing from the jar");
      }
      return JobConfig.parse(new String(in.readAllBytes(), StandardCharsets.UTF_8), "quickstart.yaml",
          overrides);
    }
  }
}
