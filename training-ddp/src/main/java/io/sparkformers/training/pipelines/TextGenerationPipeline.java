package io.sparkformers.training.pipelines;

import io.sparkformers.datasets.AutoTokenizer;
import io.sparkformers.datasets.ChatTemplate;
import io.sparkformers.datasets.Tokenizer;
import io.sparkformers.training.models.AutoModel;
import io.sparkformers.training.models.CausalLM;
import io.sparkformers.training.models.GenerationConfig;
import io.sparkformers.training.models.PreTrainedModel;
import io.sparkformers.training.models.TokenStreamer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * transformers' {@code pipeline("text-generation", model=folder)}: prompts are encoded with the folder's
 * tokenizer (conversations are first rendered with its chat template and a generation prompt, then encoded
 * without further special tokens, as {@code apply_chat_template(tokenize=True)} does), continued by its causal LM
 * with the folder's {@code generation_config.json} as defaults (left-padded batches, the KV cache), and the new
 * tokens decoded without special tokens ({@code return_full_text=False}).
 * Owns the model and tokenizer it loaded; not thread-safe.
 *
 * <pre>{@code
 * try (TextGenerationPipeline pipe = TextGenerationPipeline.fromPretrained(Path.of("output/model"))) {
 *   String text = pipe.generate("Once upon a time", pipe.defaults().toBuilder().maxNewTokens(20).build()).text();
 * }
 * }</pre>
 */
public final class TextGenerationPipeline implements AutoCloseable {
  private final PreTrainedModel owned;
  private final CausalLM model;
  private final Tokenizer tokenizer;
  private final GenerationConfig defaults;
  private final ChatTemplate chatTemplate; // null when the folder has none

  /** One continued prompt: its token ids, the new token ids (up to and including an eos) and their text. */
  public record Result(int[] promptIds, int[] generatedIds, String text) {}

  private TextGenerationPipeline(PreTrainedModel owned, CausalLM model, Tokenizer tokenizer,
      GenerationConfig defaults, ChatTemplate chatTemplate) {
    this.owned = owned;
    this.model = model;
    this.tokenizer = tokenizer;
    this.defaults = defaults;
    this.chatTemplate = chatTemplate;
  }

  /**
   * Loads a model folder: {@code config.json} and weights of a causal LM, its tokenizer ({@code tokenizer.json},
   * or GPT-2's {@code vocab.json} + {@code merges.txt}) and, when present, {@code generation_config.json} and a
   * chat template (for {@link #chat}).
   *
   * @throws IllegalArgumentException naming the folder when the model is no causal LM or there is no tokenizer
   */
  public static TextGenerationPipeline fromPretrained(Path folder) throws IOException {
    if (!AutoTokenizer.isPresentIn(folder)) {
      throw new IllegalArgumentException(folder + " holds no tokenizer (tokenizer.json, or vocab.json +"
          + " merges.txt): the pipeline turns text into tokens with it");
    }
    GenerationConfig defaults = GenerationConfig.fromPretrained(folder).build();
    PreTrainedModel loaded = AutoModel.fromPretrained(folder);
    if (!(loaded instanceof CausalLM lm)) {
      loaded.close();
      throw new IllegalArgumentException(folder.resolve("config.json") + ": model_type '" + loaded.modelType()
          + "' is not a causal language model; text generation needs one (gpt2, llama, ...)");
    }
    try {
      ChatTemplate template = ChatTemplate.templateNames(folder).isEmpty() ? null : ChatTemplate.fromPretrained(folder);
      return new TextGenerationPipeline(loaded, lm, AutoTokenizer.fromPretrained(folder), defaults, template);
    } catch (RuntimeException e) {
      loaded.close();
      throw e;
    }
  }

  /** The generation settings of the folder ({@code generation_config.json}, else transformers' defaults). */
  public GenerationConfig defaults() {
    return defaults;
  }

  public Tokenizer tokenizer() {
    return tokenizer;
  }

  public CausalLM model() {
    return model;
  }

  /** Continues one prompt with the folder's generation settings. */
  public Result generate(String prompt) {
    return generate(prompt, defaults);
  }

  public Result generate(String prompt, GenerationConfig generation) {
    return generate(List.of(prompt), generation, null).get(0);
  }

  /**
   * Continues prompts as one left-padded batch. {@code onText}, when given, receives each row's text as it grows:
   * the row index and the text decoded so far, after every new token (a streamer, as transformers' TextStreamer).
   */
  public List<Result> generate(List<String> prompts, GenerationConfig generation, BiConsumer<Integer, String> onText) {
    List<int[]> ids = new ArrayList<>(prompts.size());
    for (int i = 0; i < prompts.size(); i++) {
      String prompt = prompts.get(i);
      if (prompt == null) {
        throw new IllegalArgumentException("prompt " + i + " is null");
      }
      int[] encoded = tokenizer.encode(prompt).inputIds();
      if (encoded.length == 0) {
        throw new IllegalArgumentException("prompt " + i + " has no tokens: '" + prompt + "'");
      }
      ids.add(encoded);
    }
    return generateIds(ids, generation, onText);
  }

  /** Answers a conversation ({@code {"role", "content"}} messages) with the folder's settings. */
  public Result chat(List<? extends Map<String, ?>> messages) {
    return chat(List.of(messages), defaults, null).get(0);
  }

  /**
   * Answers conversations as one batch: each is rendered with the folder's chat template and a generation
   * prompt and encoded without adding special tokens (the template writes them).
   *
   * @throws IllegalStateException when the folder has no chat template
   * @throws io.sparkformers.datasets.ChatTemplateException when the template rejects a conversation
   */
  public List<Result> chat(List<? extends List<? extends Map<String, ?>>> conversations,
      GenerationConfig generation, BiConsumer<Integer, String> onText) {
    if (chatTemplate == null) {
      throw new IllegalStateException("the model folder has no chat template (chat_template.jinja or"
          + " tokenizer_config.json's chat_template): give plain prompts to generate(...) instead");
    }
    List<int[]> ids = new ArrayList<>(conversations.size());
    for (List<? extends Map<String, ?>> messages : conversations) {
      ids.add(tokenizer.encode(chatTemplate.render(messages, true), 0, false).inputIds());
    }
    return generateIds(ids, generation, onText);
  }

  /** The folder's chat template, or null when it has none. */
  public ChatTemplate chatTemplate() {
    return chatTemplate;
  }

  /** Continues prompts given as token ids (each at least one token). */
  public List<Result> generateIds(List<int[]> prompts, GenerationConfig generation,
      BiConsumer<Integer, String> onText) {
    int context = model.maxPositions();
    for (int i = 0; i < prompts.size(); i++) {
      if (prompts.get(i).length + generation.maxNewTokens() > context) {
        throw new IllegalArgumentException("prompt " + i + " has " + prompts.get(i).length + " tokens; with "
            + generation.maxNewTokens() + " new tokens that exceeds the model's context ("
            + model.maxPositionsKey() + " " + context + ")");
      }
    }
    TokenStreamer streamer = onText == null ? null : new TextStreamer(prompts.size(), onText);
    List<int[]> generated = model.generate(prompts, generation, streamer);
    List<Result> out = new ArrayList<>(prompts.size());
    for (int i = 0; i < prompts.size(); i++) {
      out.add(new Result(prompts.get(i), generated.get(i), tokenizer.decode(generated.get(i), true)));
    }
    return out;
  }

  /** Decodes each row's tokens so far after every new one. */
  private final class TextStreamer implements TokenStreamer {
    private final List<List<Integer>> rows = new ArrayList<>();
    private final BiConsumer<Integer, String> onText;

    TextStreamer(int rowCount, BiConsumer<Integer, String> onText) {
      for (int i = 0; i < rowCount; i++) {
        rows.add(new ArrayList<>());
      }
      this.onText = onText;
    }

    @Override
    public void put(int row, int tokenId) {
      List<Integer> tokens = rows.get(row);
      tokens.add(tokenId);
      onText.accept(row, tokenizer.decode(tokens.stream().mapToInt(Integer::intValue).toArray(), true));
    }

    @Override
    public void end() {
      // Every token was passed on as it came.
    }
  }

  @Override
  public void close() {
    try {
      tokenizer.close();
    } finally {
      owned.close();
    }
  }
}
