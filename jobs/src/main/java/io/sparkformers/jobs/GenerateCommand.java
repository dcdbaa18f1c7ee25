package io.sparkformers.jobs;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonSyntaxException;
import io.sparkformers.datasets.AutoTokenizer;
import io.sparkformers.datasets.ChatTemplate;
import io.sparkformers.datasets.ChatTemplateException;
import io.sparkformers.datasets.Tokenizer;
import io.sparkformers.training.models.AutoModel;
import io.sparkformers.training.models.CausalLM;
import io.sparkformers.training.models.GenerationConfig;
import io.sparkformers.training.models.PreTrainedModel;
import io.sparkformers.training.peft.PeftModel;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code sparkformers generate}: continues each prompt of a JSONL file with a causal LM folder, as
 * transformers' {@code generate} does (gpt2, llama, qwen2, mistral). Each input line is {@code {"prompt": "text"}}
 * (encoded with the model folder's {@code tokenizer.json}, or GPT-2's {@code vocab.json} + {@code merges.txt}),
 * {@code {"messages": [...]}} (rendered with the folder's chat template and a generation prompt) or
 * {@code {"input_ids": [...]}}, with optional {@code "token_type_ids"} (one per prompt token, on every line or
 * none); each output line is the input object plus {@code generated_ids} (new tokens only) and, with a tokenizer,
 * their text as {@code text} (and, as earlier releases wrote it, {@code generated_text}).
 */
@Command(name = "generate", mixinStandardHelpOptions = true,
    description = "Generate continuations of JSONL prompts or chats with a causal LM folder (gpt2, llama, ...).")
public final class GenerateCommand implements Callable<Integer> {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--model", required = true, description = "Model folder: config.json, model.safetensors"
      + " [, tokenizer.json or vocab.json + merges.txt].")
  Path model;

  @Option(names = "--adapter", description = "A PEFT LoRA adapter folder (adapter_config.json,"
      + " adapter_model.safetensors) to apply to the model (merged into its weights before generating).")
  Path adapter;

  @Option(names = "--input", required = true,
      description = "JSONL: {\"prompt\": text}, {\"messages\": [{\"role\", \"content\"}..]} or {\"input_ids\": [..]}.")
  Path input;

  @Option(names = "--output", description = "JSONL to write (default: standard output).")
  Path output;

  @Option(names = "--max-new-tokens", description = "New tokens per prompt (default: the folder's"
      + " generation_config.json, else 20).")
  Integer maxNewTokens;

  @Option(names = "--do-sample", description = "Sample instead of greedy decoding.")
  Boolean doSample;

  @Option(names = "--temperature", description = "Sampling temperature (default 1.0).")
  Double temperature;

  @Option(names = "--top-k", description = "Keep the k most likely tokens (default 50; 0 off).")
  Integer topK;

  @Option(names = "--top-p", description = "Nucleus: smallest set with probability > p (default 1.0).")
  Double topP;

  @Option(names = "--repetition-penalty", description = "CTRL repetition penalty (default 1.0).")
  Double repetitionPenalty;

  @Option(names = "--seed", defaultValue = "0", description = "Sampling seed (default 0).")
  long seed;

  @Option(names = "--batch-size", defaultValue = "8", description = "Prompts per left-padded batch (default 8).")
  int batchSize;

  @Option(names = "--no-cache", description = "Recompute the whole sequence each step (same tokens, slower).")
  boolean noCache;

  /** One input line: its 1-based number, the parsed object, and its token ids. */
  /** One input line: its ids and, when the line gives them, its token_type_ids (else null). */
  record PromptLine(int lineNumber, JsonObject json, int[] ids, int[] tokenTypeIds) {}

  @Override
  public Integer call() {
    try {
      if (batchSize < 1) {
        throw new IllegalArgumentException("--batch-size must be at least 1, got " + batchSize);
      }
      // The folder's generation_config.json gives the defaults, as in transformers; flags override them.
      GenerationConfig.Builder b = GenerationConfig.fromPretrained(model).seed(seed).useCache(!noCache);
      if (maxNewTokens != null) {
        b.maxNewTokens(maxNewTokens);
      }
      if (doSample != null) {
        b.doSample(doSample);
      }
      if (temperature != null) {
        b.temperature(temperature);
      }
      if (topK != null) {
        b.topK(topK);
      }
      if (topP != null) {
        b.topP(topP);
      }
      if (repetitionPenalty != null) {
        b.repetitionPenalty(repetitionPenalty);
      }
      GenerationConfig generation = b.build();
      try (PreTrainedModel loaded = loadModel(model, adapter);
          Tokenizer tokenizer = openTokenizer(model)) {
        CausalLM lm = requireCausalLm(loaded, model);
        ChatTemplate template = ChatTemplate.templateNames(model).isEmpty() ? null : ChatTemplate.fromPretrained(model);
        List<PromptLine> prompts = readPrompts(input, tokenizer, model, List.of("prompt"), true, template);
        checkContext(prompts, lm, input, generation.maxNewTokens());
        try (Writer out = output == null ? null : Files.newBufferedWriter(output, StandardCharsets.UTF_8)) {
          PrintWriter sink = out == null ? spec.commandLine().getOut() : new PrintWriter(out);
          for (int start = 0; start < prompts.size(); start += batchSize) {
            List<PromptLine> batch = prompts.subList(start, Math.min(prompts.size(), start + batchSize));
            List<int[]> ids = new ArrayList<>();
            batch.forEach(p -> ids.add(p.ids()));
            List<int[]> types = null;
            if (batch.get(0).tokenTypeIds() != null) {
              types = new ArrayList<>();
              for (PromptLine p : batch) {
                types.add(p.tokenTypeIds());
              }
            }
            List<int[]> generated = lm.generate(ids, types, generation, null);
            for (int i = 0; i < batch.size(); i++) {
              JsonObject row = batch.get(i).json().deepCopy();
              JsonArray genIds = new JsonArray();
              for (int t : generated.get(i)) {
                genIds.add(t);
              }
              row.add("generated_ids", genIds);
              if (tokenizer != null) {
                String text = tokenizer.decode(generated.get(i), true);
                row.addProperty("generated_text", text);
                row.addProperty("text", text);
              }
              sink.println(row);
            }
            sink.flush();
          }
        }
      }
      return 0;
    } catch (IOException | java.io.UncheckedIOException | IllegalArgumentException | IllegalStateException e) {
      return ExitCodes.report(spec, e);
    }
  }

  static long[] toLongs(int[] ids) {
    long[] out = new long[ids.length];
    for (int i = 0; i < ids.length; i++) {
      out[i] = ids[i];
    }
    return out;
  }

  /**
   * The folder's tokenizer (tokenizer.json, or GPT-2's vocab.json + merges.txt, with tokenizer_config.json), or
   * null when there is none.
   */
  static Tokenizer openTokenizer(Path folder) {
    return AutoTokenizer.isPresentIn(folder) ? AutoTokenizer.fromPretrained(folder) : null;
  }

  /**
   * The model of {@code folder}, with the LoRA adapter of {@code adapterFolder} (when not null) merged into its
   * weights: the same logits as base + adapter (within float rounding), at the base model's speed.
   */
  static PreTrainedModel loadModel(Path folder, Path adapterFolder) throws IOException {
    PreTrainedModel base = AutoModel.fromPretrained(folder);
    if (adapterFolder == null) {
      return base;
    }
    try {
      return PeftModel.fromPretrained(base, adapterFolder).mergeAndUnload();
    } catch (IOException | RuntimeException e) {
      base.close();
      throw e;
    }
  }

  static CausalLM requireCausalLm(PreTrainedModel loaded, Path folder) {
    if (!(loaded instanceof CausalLM lm)) {
      throw new IllegalArgumentException(folder.resolve("config.json") + ": model_type '" + loaded.modelType()
          + "' is not a causal language model; this command needs a causal LM such as model_type 'gpt2'");
    }
    return lm;
  }

  /**
   * Every line of the file, parsed; errors name the file, the line and the key. A line holds
   * {@code input_ids}, text under one of {@code textKeys} (encoded with the tokenizer) or, when {@code messages}
   * is true, a conversation under {@code messages} (rendered with {@code template} and a generation prompt, then
   * encoded without adding special tokens, as transformers' {@code apply_chat_template(tokenize=True)}).
   */
  static List<PromptLine> readPrompts(Path file, Tokenizer tokenizer, Path modelFolder, List<String> textKeys,
      boolean messages, ChatTemplate template) throws IOException {
    List<PromptLine> out = new ArrayList<>();
    try (BufferedReader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      String line;
      int number = 0;
      while ((line = reader.readLine()) != null) {
        number++;
        if (line.isBlank()) {
          continue;
        }
        String where = file + " line " + number;
        JsonElement parsed;
        try {
          parsed = JsonParser.parseString(line);
        } catch (JsonSyntaxException e) {
          throw new IllegalArgumentException(where + ": not valid JSON: " + e.getMessage());
        }
        if (!parsed.isJsonObject()) {
          throw new IllegalArgumentException(where + ": expected a JSON object, found " + abbreviate(line));
        }
        JsonObject obj = parsed.getAsJsonObject();
        int[] ids;
        if (obj.has("input_ids")) {
          ids = parseIds(obj.get("input_ids"), where);
        } else if (messages && obj.has("messages")) {
          ids = renderMessages(obj.get("messages"), template, tokenizer, modelFolder, where);
        } else if (textKeys.stream().anyMatch(obj::has)) {
          String key = textKeys.stream().filter(obj::has).findFirst().orElseThrow();
          JsonElement prompt = obj.get(key);
          if (!prompt.isJsonPrimitive() || !prompt.getAsJsonPrimitive().isString()) {
            throw new IllegalArgumentException(where + ": \"" + key + "\" must be a string, found " + prompt);
          }
          if (tokenizer == null) {
            throw new IllegalArgumentException(where + ": \"" + key + "\" needs a tokenizer, but "
                + modelFolder.resolve("tokenizer.json") + " does not exist, nor vocab.json + merges.txt (give"
                + " \"input_ids\" instead)");
          }
          ids = tokenizer.encode(prompt.getAsString()).inputIds();
        } else {
          throw new IllegalArgumentException(where + ": expected a key " + textKeysDescription(textKeys)
              + " or \"input_ids\" (token ids)" + (messages ? " or \"messages\" (a conversation)" : "")
              + ", found keys " + obj.keySet());
        }
        if (ids.length == 0) {
          throw new IllegalArgumentException(where + ": the prompt has no tokens");
        }
        int[] types = null;
        if (obj.has("token_type_ids")) {
          types = parseIds(obj.get("token_type_ids"), where);
          if (types.length != ids.length) {
            throw new IllegalArgumentException(where + ": \"token_type_ids\" has " + types.length
                + " ids, expected one per prompt token (" + ids.length + ")");
          }
        }
        if (!out.isEmpty() && (types == null) != (out.get(0).tokenTypeIds() == null)) {
          throw new IllegalArgumentException(where + ": \"token_type_ids\" must be on every line or on none (line "
              + out.get(0).lineNumber() + (types == null ? " has them)" : " has none)"));
        }
        out.add(new PromptLine(number, obj, ids, types));
      }
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException(file + ": no prompts (the file is empty)");
    }
    return out;
  }

  /** A conversation line: checked, rendered with the chat template and encoded. */
  private static int[] renderMessages(JsonElement messages, ChatTemplate template, Tokenizer tokenizer,
      Path modelFolder, String where) {
    if (template == null) {
      throw new IllegalArgumentException(where + ": \"messages\" needs a chat template, but " + modelFolder
          + " has none (chat_template.jinja or tokenizer_config.json's chat_template)");
    }
    if (tokenizer == null) {
      throw new IllegalArgumentException(where + ": \"messages\" needs a tokenizer, but " + modelFolder
          + " has no tokenizer.json");
    }
    if (!messages.isJsonArray()) {
      throw new IllegalArgumentException(where + ": \"messages\" must be a list of {\"role\", \"content\"}, found "
          + abbreviate(messages.toString()));
    }
    List<Map<String, Object>> list = new ArrayList<>();
    for (int i = 0; i < messages.getAsJsonArray().size(); i++) {
      JsonElement m = messages.getAsJsonArray().get(i);
      if (!m.isJsonObject()) {
        throw new IllegalArgumentException(where + ": \"messages\"[" + i + "] must be an object, found "
            + abbreviate(m.toString()));
      }
      @SuppressWarnings("unchecked")
      Map<String, Object> message = new com.google.gson.Gson().fromJson(m, Map.class);
      list.add(message);
    }
    try {
      return tokenizer.encode(template.render(list, true), 0, false).inputIds();
    } catch (ChatTemplateException e) {
      throw new IllegalArgumentException(where + ": the chat template rejects the conversation: " + e.getMessage(), e);
    }
  }

  private static String textKeysDescription(List<String> keys) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < keys.size(); i++) {
      b.append(i == 0 ? "" : i == keys.size() - 1 ? " or " : ", ").append('"').append(keys.get(i)).append('"');
    }
    return b + " (text)";
  }

  static int[] parseIds(JsonElement el, String where) {
    if (!el.isJsonArray()) {
      throw new IllegalArgumentException(where + ": \"input_ids\" must be a list of integers, found "
          + abbreviate(el.toString()));
    }
    JsonArray a = el.getAsJsonArray();
    int[] ids = new int[a.size()];
    for (int i = 0; i < ids.length; i++) {
      JsonElement v = a.get(i);
      if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isNumber() || v.getAsDouble() != Math.rint(v.getAsDouble())
          || v.getAsDouble() < 0 || v.getAsDouble() > Integer.MAX_VALUE) {
        throw new IllegalArgumentException(where + ": \"input_ids\"[" + i + "] must be a non-negative integer,"
            + " found " + v);
      }
      ids[i] = v.getAsInt();
    }
    return ids;
  }

  /** Fails naming the line of the first prompt the model cannot take: unknown ids or too long. */
  static void checkContext(List<PromptLine> prompts, CausalLM lm, Path file, int maxNewTokens) {
    int context = lm.maxPositions();
    int vocab = lm.vocabSize();
    for (PromptLine p : prompts) {
      String where = file + " line " + p.lineNumber();
      for (int i = 0; i < p.ids().length; i++) {
        if (p.ids()[i] >= vocab) {
          throw new IllegalArgumentException(where + ": token " + i + " is id " + p.ids()[i]
              + ", outside the model's vocabulary [0, " + vocab + ")");
        }
        if (p.tokenTypeIds() != null && p.tokenTypeIds()[i] >= vocab) {
          throw new IllegalArgumentException(where + ": token_type_ids " + i + " is " + p.tokenTypeIds()[i]
              + ", outside the model's vocabulary [0, " + vocab + ") that GPT-2 embeds token types with");
        }
      }
      if (p.ids().length + maxNewTokens > context) {
        throw new IllegalArgumentException(where + ": the prompt has " + p.ids().length + " tokens; with "
            + maxNewTokens + " new tokens that exceeds the model's context (" + lm.maxPositionsKey() + " " + context
            + ")");
      }
    }
  }

  static String abbreviate(String s) {
    return s.length() <= 80 ? s : s.substring(0, 77) + "...";
  }
}
