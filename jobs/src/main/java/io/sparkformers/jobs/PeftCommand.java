package io.sparkformers.jobs;

import io.sparkformers.training.models.AutoModel;
import io.sparkformers.training.models.PreTrainedModel;
import io.sparkformers.training.peft.PeftModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code sparkformers peft}: work with PEFT adapters; {@code peft merge} folds a LoRA adapter into its base. */
@Command(name = "peft", mixinStandardHelpOptions = true,
    description = "PEFT adapters: merge a LoRA adapter into its base model.",
    subcommands = {PeftCommand.Merge.class})
public final class PeftCommand implements Runnable {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "Missing subcommand: merge");
  }

  /** The base files a merged folder keeps beside the weights, so that it generates as the base did. */
  static final List<String> COPIED_FILES = List.of("generation_config.json", "tokenizer.json",
      "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt", "chat_template.jinja");

  /** {@code peft merge --model BASE --adapter DIR --output DIR}: PEFT's merge_and_unload + save_pretrained. */
  @Command(name = "merge", mixinStandardHelpOptions = true,
      description = "Write BASE with the LoRA adapter merged into its weights (W += B·A·scaling) as a plain model"
          + " folder.")
  static final class Merge implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, description = "Base model folder (config.json, model.safetensors).")
    Path model;

    @Option(names = "--adapter", required = true,
        description = "PEFT LoRA adapter folder (adapter_config.json, adapter_model.safetensors).")
    Path adapter;

    @Option(names = "--output", required = true, description = "Folder to write the merged model to.")
    Path output;

    @Override
    public Integer call() {
      try (PreTrainedModel base = AutoModel.fromPretrained(model)) {
        PreTrainedModel merged = PeftModel.fromPretrained(base, adapter).mergeAndUnload();
        merged.savePretrained(output);
        for (String name : COPIED_FILES) {
          Path src = model.resolve(name);
          if (Files.isRegularFile(src)) {
            Files.copy(src, output.resolve(name), StandardCopyOption.REPLACE_EXISTING);
          }
        }
        spec.commandLine().getOut().println("merged " + adapter + " into " + model + ": " + output);
        spec.commandLine().getOut().flush();
        return 0;
      } catch (IOException | java.io.UncheckedIOException | IllegalArgumentException | IllegalStateException e) {
        return ExitCodes.report(spec, e);
      }
    }
  }
}
