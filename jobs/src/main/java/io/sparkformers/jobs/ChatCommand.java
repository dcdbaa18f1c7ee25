package io.sparkformers.jobs;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparkformers.datasets.ChatTemplate;
import io.sparkformers.datasets.ChatTemplateException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code sparkformers chat render}: conversations through a chat template, as transformers'
 * {@code apply_chat_template(messages, tokenize=False)} renders them. Exit codes: 0 rendered (a conversation the
 * template rejects is an {@code {"error": ...}} line, not a failure), 1 a bad input or template file (the message
 * names the file and line), 2 a usage error.
 */
@Command(
    name = "chat",
    mixinStandardHelpOptions = true,
    description = "Chat templates: render conversations as a model expects them.",
    subcommands = {ChatCommand.Render.class})
public final class ChatCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "Missing subcommand: render");
  }

  /** {@code chat render (--model DIR | --template FILE) --input FILE.jsonl [--add-generation-prompt]}. */
  @Command(name = "render", mixinStandardHelpOptions = true,
      description = {
        "Render each conversation of a JSON lines file with a chat template.",
        "Input lines: {\"messages\": [{\"role\": ..., \"content\": ...}, ...]} (also \"tools\" and \"documents\").",
        "Output lines, one per input line: {\"text\": ...}, or {\"error\": ...} where the template rejects it."
      })
  static final class Render implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @ArgGroup(exclusive = true, multiplicity = "1")
    TemplateSource source;

    static final class TemplateSource {
      @Option(names = "--model", paramLabel = "DIR",
          description = "a model or tokenizer folder: chat_template.jinja or tokenizer_config.json's chat_template, "
              + "with its special tokens")
      Path model;

      @Option(names = "--template", paramLabel = "FILE", description = "a file holding the bare Jinja source")
      Path template;
    }

    @Option(names = "--template-name", paramLabel = "NAME",
        description = "with --model: which of several named templates (default: the one named default, or "
            + "tool_use for a line with tools, as transformers chooses)")
    String templateName;

    @Option(names = "--input", required = true, paramLabel = "FILE.jsonl", description = "one conversation a line")
    Path input;

    @Option(names = "--add-generation-prompt", description = "end with the prompt for the assistant's reply")
    boolean addGenerationPrompt;

    @Option(names = "--bos-token", paramLabel = "TOKEN", description = "the bos_token variable (default: none, "
        + "or the model's)")
    String bosToken;

    @Option(names = "--eos-token", paramLabel = "TOKEN", description = "the eos_token variable (default: none, "
        + "or the model's)")
    String eosToken;

    @Override
    public Integer call() throws Exception {
      if (templateName != null && source.model == null) {
        throw new CommandLine.ParameterException(spec.commandLine(), "--template-name needs --model");
      }
      return DatasetsCommand.guarded(spec, () -> {
        ChatTemplate template = template(templateName);
        // As transformers: with no name asked for, a conversation with tools uses the model's "tool_use" one.
        ChatTemplate toolUse = source.model != null && templateName == null
            && ChatTemplate.templateNames(source.model).contains("tool_use") ? template("tool_use") : template;
        List<Conversation> conversations = read(input);
        PrintWriter out = spec.commandLine().getOut();
        for (Conversation c : conversations) {
          Map<String, Object> line = new LinkedHashMap<>();
          ChatTemplate chosen = c.variables().get("tools") != null ? toolUse : template;
          try {
            line.put("text", chosen.render(c.messages(), addGenerationPrompt, c.variables()));
          } catch (ChatTemplateException e) {
            line.put("error", e.getMessage());
          }
          out.println(JSON.writeValueAsString(line));
        }
        out.flush();
        return 0;
      });
    }

    private ChatTemplate template(String name) {
      ChatTemplate template;
      if (source.model != null) {
        if (!Files.isDirectory(source.model)) {
          throw new IllegalArgumentException(source.model + " is not a folder");
        }
        template = ChatTemplate.fromPretrained(source.model, name);
      } else {
        String text;
        try {
          text = Files.readString(source.template, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
          throw new io.sparkformers.jobs.train.InputMissingException("no such template file: " + source.template);
        } catch (IOException e) {
          throw new UncheckedIOException("cannot read " + source.template + ": " + e.getMessage(), e);
        }
        try {
          template = ChatTemplate.of(text);
        } catch (ChatTemplateException e) {
          throw new IllegalArgumentException(source.template + ": " + e.getMessage(), e);
        }
      }
      Map<String, String> tokens = new LinkedHashMap<>(template.specialTokens());
      if (bosToken != null) {
        tokens.put("bos_token", bosToken);
      }
      if (eosToken != null) {
        tokens.put("eos_token", eosToken);
      }
      return template.withSpecialTokens(tokens);
    }

    /** One input line: its messages and the variables it adds ({@code tools}, {@code documents}). */
    record Conversation(List<Map<String, Object>> messages, Map<String, Object> variables) {}

    /** The whole file, checked before anything is rendered: a bad line names the file and line. */
    @SuppressWarnings("unchecked")
    static List<Conversation> read(Path input) {
      List<Conversation> out = new ArrayList<>();
      try (BufferedReader r = Files.newBufferedReader(input, StandardCharsets.UTF_8)) {
        String line;
        int n = 0;
        while ((line = r.readLine()) != null) {
          n++;
          if (line.isBlank()) {
            continue;
          }
          String where = input + ":" + n;
          JsonNode node;
          try {
            node = JSON.readTree(line);
          } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(where + ":" + e.getLocation().getColumnNr() + ": not valid JSON: "
                + e.getOriginalMessage());
          }
          if (!node.isObject()) {
            throw new IllegalArgumentException(where + ": expected a JSON object, got " + kind(node));
          }
          JsonNode messages = node.get("messages");
          if (messages == null) {
            throw new IllegalArgumentException(where + ": missing key 'messages' (a list of {\"role\", \"content\"})");
          }
          if (!messages.isArray()) {
            throw new IllegalArgumentException(where + ": key 'messages': expected a list, got " + kind(messages));
          }
          for (int i = 0; i < messages.size(); i++) {
            if (!messages.get(i).isObject()) {
              throw new IllegalArgumentException(where + ": key 'messages' item " + i + ": expected an object, got "
                  + kind(messages.get(i)));
            }
          }
          Map<String, Object> variables = new LinkedHashMap<>();
          for (String key : List.of("tools", "documents")) {
            if (node.has(key)) {
              variables.put(key, JSON.convertValue(node.get(key), Object.class));
            }
          }
          out.add(new Conversation(JSON.convertValue(messages, List.class), variables));
        }
      } catch (NoSuchFileException e) {
        throw new io.sparkformers.jobs.train.InputMissingException("no such input file: " + input);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read " + input + ": " + e.getMessage(), e);
      }
      return out;
    }

    private static String kind(JsonNode node) {
      return node.getNodeType().toString().toLowerCase(java.util.Locale.ROOT);
    }
  }
}
