package io.sparkformers.jobs;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import com.google.gson.JsonObject;
import io.sparkformers.training.models.CausalLM;
import io.sparkformers.training.models.PreTrainedModel;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code sparkformers score}: for each JSONL line ({@code text}, {@code prompt} or {@code input_ids}), the mean next-token
 * cross-entropy of the sequence under a causal LM (transformers' loss with labels = input_ids), then the
 * perplexity of the whole file: exp(total negative log-likelihood / total predicted tokens).
 */
@Command(name = "score", mixinStandardHelpOptions = true,
    description = "Mean next-token cross-entropy per JSONL line and the perplexity of the file.")
public final class ScoreCommand implements Callable<Integer> {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--model", required = true, description = "Model folder (gpt2).")
  Path model;

  @Option(names = "--adapter", description = "A PEFT LoRA adapter folder to apply to the model (merged into"
      + " its weights).")
  Path adapter;

  @Option(names = "--input", required = true,
      description = "JSONL: {\"text\": text}, {\"prompt\": text} or {\"input_ids\": [..]}.")
  Path input;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    try (PreTrainedModel loaded = GenerateCommand.loadModel(model, adapter);
        io.sparkformers.datasets.Tokenizer tokenizer = GenerateCommand.openTokenizer(model)) {
      CausalLM lm = GenerateCommand.requireCausalLm(loaded, model);
      List<GenerateCommand.PromptLine> lines = GenerateCommand.readPrompts(input, tokenizer, model,
          List.of("text", "prompt"), false, null);
      GenerateCommand.checkContext(lines, lm, input, 0);
      double totalNll = 0;
      long totalTokens = 0;
      boolean gradBefore = JniUtils.isGradMode();
      JniUtils.setGradMode(false);
      try {
        for (GenerateCommand.PromptLine line : lines) {
          int[] ids = line.ids();
          JsonObject row = new JsonObject();
          row.addProperty("line", line.lineNumber());
          int predicted = ids.length - 1;
          row.addProperty("tokens", predicted);
          if (predicted == 0) {
            // One token predicts nothing: no loss, and nothing added to the file's perplexity.
            row.add("mean_cross_entropy", com.google.gson.JsonNull.INSTANCE);
          } else {
            try (NDManager scope = lm.manager().newSubManager()) {
              NDArray x = scope.create(ids, new Shape(1, ids.length));
              Map<String, NDArray> inputs = new java.util.HashMap<>(Map.of("input_ids", x, "labels", x));
              if (line.tokenTypeIds() != null) {
                inputs.put("token_type_ids", scope.create(line.tokenTypeIds(), new Shape(1, ids.length)));
              }
              float loss = lm.forward(inputs, false).loss().getFloat();
              row.addProperty("mean_cross_entropy", loss);
              totalNll += (double) loss * predicted;
              totalTokens += predicted;
            }
          }
          out.println(row);
        }
      } finally {
        JniUtils.setGradMode(gradBefore);
      }
      JsonObject summary = new JsonObject();
      summary.addProperty("lines", lines.size());
      summary.addProperty("tokens", totalTokens);
      if (totalTokens == 0) {
        summary.add("mean_cross_entropy", com.google.gson.JsonNull.INSTANCE);
        summary.add("perplexity", com.google.gson.JsonNull.INSTANCE);
      } else {
        summary.addProperty("mean_cross_entropy", totalNll / totalTokens);
        summary.addProperty("perplexity", Math.exp(totalNll / totalTokens));
      }
      out.println(summary);
      out.flush();
      return 0;
    } catch (IOException | java.io.UncheckedIOException | IllegalArgumentException | IllegalStateException e) {
      return ExitCodes.report(spec, e);
    }
  }
}
