package io.sparkformers.jobs.train;

import io.sparkformers.datasets.ChatTemplate;
import io.sparkformers.datasets.ChatTemplateException;
import io.sparkformers.datasets.RenderedChat;
import io.sparkformers.datasets.Tokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Turns one supervised fine-tuning example into {@code input_ids} and {@code labels} (-100 where no loss is
 * taken), as TRL's SFTTrainer tokenizes its dataset formats:
 *
 * <ul>
 *   <li>{@code text} (language modeling): the eos token is appended when the text does not end with it, the text
 *       is encoded with the tokenizer's special tokens, every token is a label.
 *   <li>{@code prompt} + {@code completion}: the eos token is appended to the completion when it does not end with
 *       it; {@code prompt} and {@code prompt + completion} are encoded (with special tokens) and, with
 *       {@code completion_only_loss}, the first {@code len(prompt tokens)} labels are -100 (TRL's
 *       {@code completion_mask}).
 *   <li>conversational {@code prompt} + {@code completion} (lists of messages): {@code prompt} rendered with the
 *       generation prompt and {@code prompt + completion} rendered whole, both encoded without special tokens;
 *       with {@code completion_only_loss} the prompt's tokens are -100; no eos is appended.
 *   <li>{@code messages}: rendered with the chat template and encoded without special tokens (the template writes
 *       them, as {@code apply_chat_template(tokenize=True)}); with {@code assistant_only_loss} every token outside
 *       the assistant's parts is -100. Those parts are the template's {@code {% generation %}} blocks when it has
 *       them (transformers' {@code return_assistant_tokens_mask}, which TRL uses). A template without such blocks
 *       is rendered once per assistant message: the assistant's part of message i is what
 *       {@code render(messages[:i+1])} adds to {@code render(messages[:i], add_generation_prompt=True)} (its
 *       content and the end-of-turn text the template writes after it), which must both be prefixes of the whole
 *       rendering. A token is the assistant's when its characters overlap such a part.
 *   <li>pre-tokenized: {@code input_ids} as given, {@code labels} as given or a copy of the ids.
 * </ul>
 *
 * <p>Every example is then truncated to {@code maxLength} tokens, keeping the start (TRL's {@code max_length}).
 * Thread-safe as far as the tokenizer is.
 */
final class SftExamples {
  static final int IGNORE = -100;

  /** One tokenized example: ids and their labels, of equal length. */
  record Example(int[] inputIds, int[] labels) {}

  private final Tokenizer tokenizer;
  private final ChatTemplate template;
  private final boolean completionOnlyLoss;
  private final boolean assistantOnlyLoss;
  private final int maxLength;
  private final String eos;

  /** {@code template} may be null when no example is a conversation. */
  SftExamples(Tokenizer tokenizer, ChatTemplate template, boolean completionOnlyLoss, boolean assistantOnlyLoss,
      int maxLength) {
    this.tokenizer = tokenizer;
    this.template = template;
    this.completionOnlyLoss = completionOnlyLoss;
    this.assistantOnlyLoss = assistantOnlyLoss;
    this.maxLength = maxLength;
    this.eos = tokenizer == null ? null : tokenizer.specialToken("eos_token");
  }

  Example text(String text) {
    int[] ids = tokenizer.encode(withEos(text), 0, true).inputIds();
    return truncate(ids, ids.clone());
  }

  Example promptCompletion(String prompt, String completion) {
    int[] promptIds = tokenizer.encode(prompt, 0, true).inputIds();
    int[] ids = tokenizer.encode(prompt + withEos(completion), 0, true).inputIds();
    int[] labels = ids.clone();
    if (completionOnlyLoss) {
      // As TRL: the prompt's own encoding says how many leading tokens are the prompt's.
      Arrays.fill(labels, 0, Math.min(promptIds.length, labels.length), IGNORE);
    }
    return truncate(ids, labels);
  }

  /**
   * Conversational prompt-completion rows (TRL): the prompt rendered with the generation prompt and the whole
   * conversation are encoded without special tokens; with {@code completion_only_loss} the prompt's tokens are -100.
   * No eos is appended: the template ends the turn.
   */
  Example conversationalPromptCompletion(List<Map<String, Object>> prompt, List<Map<String, Object>> completion) {
    if (template == null) {
      throw new IllegalArgumentException("a conversational prompt needs the tokenizer's chat template, and it has"
          + " none");
    }
    List<Map<String, Object>> whole = new ArrayList<>(prompt);
    whole.addAll(completion);
    String promptText;
    String wholeText;
    try {
      promptText = template.render(prompt, true);
      wholeText = template.render(whole, false);
    } catch (ChatTemplateException e) {
      throw new IllegalArgumentException("the chat template rejects the conversation: " + e.getMessage(), e);
    }
    int[] promptIds = tokenizer.encode(promptText, 0, false).inputIds();
    int[] ids = tokenizer.encode(wholeText, 0, false).inputIds();
    int[] labels = ids.clone();
    if (completionOnlyLoss) {
      Arrays.fill(labels, 0, Math.min(promptIds.length, labels.length), IGNORE);
    }
    return truncate(ids, labels);
  }

  /** @throws IllegalArgumentException when the template rejects the conversation or hides its assistant parts */
  Example messages(List<Map<String, Object>> messages) {
    RenderedChat rendered;
    List<RenderedChat.Span> parts;
    try {
      rendered = template.renderWithGenerationSpans(messages, false, Map.of());
      parts = !assistantOnlyLoss ? List.of() : hasGenerationBlocks() ? rendered.generationSpans()
          : assistantPartsByPrefixes(messages, rendered.text());
    } catch (ChatTemplateException e) {
      throw new IllegalArgumentException("the chat template rejects the conversation: " + e.getMessage(), e);
    }
    Tokenizer.EncodedWithOffsets enc = tokenizer.encodeWithOffsets(rendered.text(), false);
    int[] ids = enc.inputIds();
    int[] labels = ids.clone();
    if (assistantOnlyLoss) {
      for (int k = 0; k < ids.length; k++) {
        boolean assistant = false;
        for (RenderedChat.Span p : parts) {
          assistant |= enc.charStarts()[k] < p.end() && enc.charEnds()[k] > p.start();
        }
        if (!assistant) {
          labels[k] = IGNORE;
        }
      }
    }
    return truncate(ids, labels);
  }

  Example preTokenized(int[] inputIds, int[] labels) {
    if (labels != null && labels.length != inputIds.length) {
      throw new IllegalArgumentException(labels.length + " labels for " + inputIds.length + " input_ids");
    }
    return truncate(inputIds.clone(), labels != null ? labels.clone() : inputIds.clone());
  }

  private boolean hasGenerationBlocks() {
    return template.source().matches("(?s).*\\{%-?\\s*generation\\s*-?%}.*");
  }

  private List<RenderedChat.Span> assistantPartsByPrefixes(List<Map<String, Object>> messages, String whole) {
    List<RenderedChat.Span> parts = new ArrayList<>();
    for (int i = 0; i < messages.size(); i++) {
      if (!"assistant".equals(messages.get(i).get("role"))) {
        continue;
      }
      String before = template.render(messages.subList(0, i), true);
      String upTo = template.render(messages.subList(0, i + 1), false);
      if (!whole.startsWith(before) || !whole.startsWith(upTo) || upTo.length() < before.length()) {
        throw new IllegalArgumentException("the chat template renders the conversation up to message " + i
            + " (assistant) differently from the start of the whole conversation, so the assistant's tokens cannot"
            + " be told apart; give the template {% generation %} blocks or set data.assistant_only_loss: false");
      }
      parts.add(new RenderedChat.Span(before.length(), upTo.length()));
    }
    return parts;
  }

  private String withEos(String s) {
    return eos == null || s.endsWith(eos) ? s : s + eos;
  }

  private Example truncate(int[] ids, int[] labels) {
    if (ids.length <= maxLength) {
      return new Example(ids, labels);
    }
    return new Example(Arrays.copyOf(ids, maxLength), Arrays.copyOf(labels, maxLength));
  }
}
