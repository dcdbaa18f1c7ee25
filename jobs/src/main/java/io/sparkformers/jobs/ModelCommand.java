package io.sparkformers.jobs;

import io.sparkformers.training.models.AutoConfig;
import io.sparkformers.training.models.AutoModel;
import io.sparkformers.training.models.PreTrainedModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code sparkformers model}: model folders; {@code model init} gives a config.json its first weights. */
@Command(name = "model", mixinStandardHelpOptions = true,
    description = "Model folders: initialise the weights of a folder's config.json.",
    subcommands = {ModelCommand.Init.class})
public final class ModelCommand implements Runnable {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "Missing subcommand: init");
  }

  /**
   * {@code model init DIR}: transformers' {@code AutoModel.from_config(config).save_pretrained(DIR)} for a folder
   * holding config.json: writes {@code model.safetensors} with freshly initialised weights (from the seed), and
   * leaves config.json and the other files as they are.
   */
  @Command(name = "init", mixinStandardHelpOptions = true,
      description = "Write DIR/model.safetensors: the weights of DIR/config.json's model, initialised from --seed."
          + " config.json and the tokenizer files are left as they are.")
  static final class Init implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Parameters(paramLabel = "DIR", description = "a folder holding config.json")
    Path folder;

    @Option(names = "--seed", defaultValue = "42", description = "the random seed of the weights (default: ${DEFAULT-VALUE})")
    int seed;

    @Option(names = "--force", description = "replace an existing model.safetensors")
    boolean force;

    @Override
    public Integer call() throws Exception {
      if (!Files.isRegularFile(folder.resolve("config.json"))) {
        return ExitCodes.report(spec, new io.sparkformers.jobs.train.InputMissingException(folder
            + " has no config.json"));
      }
      Path weights = folder.resolve("model.safetensors");
      if (Files.exists(weights) && !force) {
        return ExitCodes.report(spec, new UsageException(weights + " exists; --force replaces it"));
      }
      Path staging = Files.createTempDirectory(folder.toAbsolutePath().getParent(), ".model-init-");
      try {
        ai.djl.engine.Engine.getInstance().setRandomSeed(seed);
        try (PreTrainedModel model = AutoModel.fromConfig(AutoConfig.fromPretrained(folder))) {
          model.savePretrained(staging);
        }
        Files.move(staging.resolve("model.safetensors"), weights, StandardCopyOption.REPLACE_EXISTING);
      } catch (IllegalArgumentException e) {
        return ExitCodes.report(spec, e);
      } finally {
        try (Stream<Path> walk = Files.walk(staging)) {
          for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
            Files.deleteIfExists(p);
          }
        } catch (IOException ignored) {
          // A leftover temporary folder is harmless.
        }
      }
      spec.commandLine().getOut().println("Wrote " + weights + " (seed " + seed + ")");
      spec.commandLine().getOut().flush();
      return ExitCodes.OK;
    }
  }
}
