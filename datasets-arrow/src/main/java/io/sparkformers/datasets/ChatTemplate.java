package io.sparkformers.datasets;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparkformers.datasets.internal.JinjaChat;
import io.sparkformers.datasets.internal.PythonValues;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A chat template, rendered as transformers' {@code apply_chat_template(messages, tokenize=False,
 * add_generation_prompt=...)} renders it: Jinja with {@code trim_blocks} and {@code lstrip_blocks}, the variables
 * {@code messages}, {@code tools}, {@code documents}, {@code add_generation_prompt} and the tokenizer's special
 * tokens ({@code bos_token}, {@code eos_token}, ...), and the functions {@code raise_exception} and
 * {@code strftime_now}. Immutable, safe to share between threads, and serializable (Spark tasks can carry it).
 *
 * <p>Rendering runs on jinjava, adapted where it differs from Jinja2. Still different: {@code loop.previtem}/
 * {@code nextitem} are missing, {@code %} formatting knows %s, %r, %d and %i only, a subscript right after a
 * slice with a step ({@code x[::-1][0]}) does not parse, strings are indexed and sliced by UTF-16 unit, and an attribute of an
 * undefined value is undefined where Jinja2 raises.
 *
 * <pre>{@code
 * ChatTemplate template = ChatTemplate.fromPretrained(Path.of("model"));
 * String text = template.render(List.of(Map.of("role", "user", "content", "Hi")), true);
 * }</pre>
 */
public final class ChatTemplate implements java.io.Serializable {
  private static final long serialVersionUID = 1L;
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final JinjaChat ENGINE = new JinjaChat();
  /** The special tokens transformers always names (SPECIAL_TOKENS_ATTRIBUTES); other "*_token" keys count too. */
  private static final List<String> SPECIAL_TOKEN_KEYS =
      List.of("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token");

  private final String source;
  private final Map<String, String> specialTokens;

  private ChatTemplate(String source, Map<String, String> specialTokens) {
    List<String> errors = ENGINE.syntaxErrors(source);
    if (!errors.isEmpty()) {
      throw new ChatTemplateException("chat template syntax error: " + String.join("; ", errors), false);
    }
    this.source = source;
    this.specialTokens = Map.copyOf(specialTokens);
  }

  /** A template from its Jinja source, with no special tokens ({@code bos_token} and the rest are undefined). */
  public static ChatTemplate of(String source) {
    return new ChatTemplate(source, Map.of());
  }

  /** A template from its Jinja source, with special tokens such as {@code bos_token -> "<s>"}. */
  public static ChatTemplate of(String source, Map<String, String> specialTokens) {
    return new ChatTemplate(source, specialTokens);
  }

  /**
   * The default template of a model or tokenizer folder, with the special tokens of its
   * {@code tokenizer_config.json}. Found as transformers finds it: {@code chat_template.jinja} and
   * {@code additional_chat_templates/NAME.jinja} first, then {@code tokenizer_config.json}'s
   * {@code chat_template} (a string, or a list of {@code {"name", "template"}}), then a processor's
   * {@code chat_template.json}. Of several named templates, the one named {@code default}.
   */
  public static ChatTemplate fromPretrained(Path folder) {
    return fromPretrained(folder, null);
  }

  /** The template called {@code name} in {@code folder} (null: the default one), as {@link #fromPretrained(Path)}. */
  public static ChatTemplate fromPretrained(Path folder, String name) {
    Map<String, Object> config = readJsonObject(folder.resolve("tokenizer_config.json"));
    Map<String, String> templates = templatesIn(folder, config);
    if (templates.isEmpty()) {
      throw new ChatTemplateException("no chat template in " + folder + " (looked for chat_template.jinja, "
          + "tokenizer_config.json's chat_template and chat_template.json)", false);
    }
    String chosen = name != null ? name : templates.size() == 1 ? templates.keySet().iterator().next() : "default";
    String source = templates.get(chosen);
    if (source == null) {
      throw new ChatTemplateException(name != null
          ? "no chat template named '" + name + "' in " + folder + "; there are " + new TreeMap<>(templates).keySet()
          : "the chat templates in " + folder + " have no default; name one of " + new TreeMap<>(templates).keySet(),
          false);
    }
    return new ChatTemplate(source, specialTokens(folder, config));
  }

  /**
   * The names of the templates in {@code folder} ("default" for a single unnamed one), found as
   * {@link #fromPretrained(Path)} finds them. transformers renders with "tool_use", when there is one, for a
   * conversation given tools and no template name.
   */
  public static java.util.Set<String> templateNames(Path folder) {
    return java.util.Collections.unmodifiableSet(new java.util.TreeSet<>(
        templatesIn(folder, readJsonObject(folder.resolve("tokenizer_config.json"))).keySet()));
  }

  /** Templates by name; a single unnamed template is called "default". */
  private static Map<String, String> templatesIn(Path folder, Map<String, Object> config) {
    Map<String, String> templates = new LinkedHashMap<>();
    Path jinja = folder.resolve("chat_template.jinja");
    if (Files.isRegularFile(jinja)) {
      templates.put("default", readString(jinja));
    }
    Path extra = folder.resolve("additional_chat_templates");
    if (Files.isDirectory(extra)) {
      try (DirectoryStream<Path> files = Files.newDirectoryStream(extra, "*.jinja")) {
        for (Path f : files) {
          String file = f.getFileName().toString();
          templates.put(file.substring(0, file.length() - ".jinja".length()), readString(f));
        }
      } catch (IOException e) {
        throw new UncheckedIOException("cannot list " + extra, e);
      }
    }
    if (templates.isEmpty()) {
      addConfigTemplates(templates, config.get("chat_template"), folder.resolve("tokenizer_config.json"));
    }
    if (templates.isEmpty()) {
      Path legacy = folder.resolve("chat_template.json");
      if (Files.isRegularFile(legacy)) {
        addConfigTemplates(templates, readJsonObject(legacy).get("chat_template"), legacy);
      }
    }
    return templates;
  }

  private static void addConfigTemplates(Map<String, String> templates, Object value, Path file) {
    if (value == null) {
      return;
    }
    if (value instanceof String s) {
      templates.put("default", s);
    } else if (value instanceof List<?> list) {
      for (Object item : list) {
        if (!(item instanceof Map<?, ?> entry) || !(entry.get("name") instanceof String n)
            || !(entry.get("template") instanceof String t)) {
          throw new IllegalArgumentException(file + ": chat_template list entries must be {\"name\": ..., "
              + "\"template\": ...}, got " + item);
        }
        templates.put(n, t);
      }
    } else if (value instanceof Map<?, ?> map) {
      map.forEach((n, t) -> templates.put(String.valueOf(n), String.valueOf(t)));
    } else {
      throw new IllegalArgumentException(file + ": chat_template must be a string or a list of named templates");
    }
  }

  /**
   * The special tokens a template sees, from {@code tokenizer_config.json} (then {@code special_tokens_map.json}):
   * the standard ones and any other {@code *_token} key, each a string or an AddedToken {@code {"content": ...}}.
   */
  private static Map<String, String> specialTokens(Path folder, Map<String, Object> config) {
    Map<String, String> tokens = new LinkedHashMap<>();
    Map<String, Object> legacy = readJsonObject(folder.resolve("special_tokens_map.json"));
    for (Map<String, Object> source : List.of(config, legacy)) {
      for (Map.Entry<String, Object> e : source.entrySet()) {
        String key = e.getKey();
        if ((SPECIAL_TOKEN_KEYS.contains(key) || key.endsWith("_token")) && !tokens.containsKey(key)) {
          String token = tokenText(e.getValue());
          if (token != null) {
            tokens.put(key, token);
          }
        }
      }
      if (source.get("extra_special_tokens") instanceof Map<?, ?> extra) {
        extra.forEach((k, v) -> {
          String token = tokenText(v);
          if (token != null) {
            tokens.putIfAbsent(String.valueOf(k), token);
          }
        });
      }
    }
    return tokens;
  }

  private static String tokenText(Object value) {
    if (value instanceof String s) {
      return s;
    }
    if (value instanceof Map<?, ?> added && added.get("content") instanceof String s) {
      return s;
    }
    return null;
  }

  /** The Jinja source. */
  public String source() {
    return source;
  }

  /** The special tokens given to the template as variables. */
  public Map<String, String> specialTokens() {
    return specialTokens;
  }

  /** The same template with these special tokens instead. */
  public ChatTemplate withSpecialTokens(Map<String, String> tokens) {
    return new ChatTemplate(source, tokens);
  }

  /** {@code apply_chat_template(messages, tokenize=False, add_generation_prompt=...)}. */
  public String render(List<? extends Map<String, ?>> messages, boolean addGenerationPrompt) {
    return render(messages, addGenerationPrompt, Map.of());
  }

  /**
   * As {@link #render(List, boolean)}, with more variables: {@code tools}, {@code documents}, or whatever the
   * template reads (transformers' extra keyword arguments); they override special tokens of the same name.
   *
   * @throws ChatTemplateException when the template raises (its message) or fails on this conversation
   */
  public String render(List<? extends Map<String, ?>> messages, boolean addGenerationPrompt,
      Map<String, ?> extraVariables) {
    return renderWithGenerationSpans(messages, addGenerationPrompt, extraVariables).text();
  }

  /** As {@link #render(List, boolean, Map)}, with the spans its {@code {% generation %}} blocks wrote. */
  public RenderedChat renderWithGenerationSpans(List<? extends Map<String, ?>> messages, boolean addGenerationPrompt,
      Map<String, ?> extraVariables) {
    for (String reserved : List.of("messages", "add_generation_prompt")) {
      if (extraVariables.containsKey(reserved)) {
        throw new IllegalArgumentException("'" + reserved + "' is set by render itself, not by extra variables");
      }
    }
    Map<String, Object> variables = new LinkedHashMap<>();
    variables.putAll(specialTokens);
    // transformers passes tools and documents always, None when not given: defined, falsy, printed "None".
    variables.put("tools", PythonValues.None.NONE);
    variables.put("documents", PythonValues.None.NONE);
    extraVariables.forEach((k, v) -> variables.put(k, PythonValues.toTemplateValue(v)));
    // The literal none/None: jinjava reads it as an undefined name (Java null); Jinja2's is None itself.
    variables.put("none", PythonValues.None.NONE);
    variables.put("None", PythonValues.None.NONE);
    variables.put("messages", PythonValues.toTemplateValue(messages));
    variables.put("add_generation_prompt", addGenerationPrompt);
    JinjaChat.Output out;
    try {
      out = ENGINE.render(source, variables);
    } catch (JinjaChat.Failure e) {
      throw new ChatTemplateException(e.getMessage(), e.raisedByTemplate());
    }
    List<RenderedChat.Span> spans = new ArrayList<>();
    for (int[] s : out.generationSpans()) {
      spans.add(new RenderedChat.Span(s[0], s[1]));
    }
    return new RenderedChat(out.text(), spans);
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> readJsonObject(Path file) {
    if (!Files.isRegularFile(file)) {
      return Map.of();
    }
    try {
      Object value = JSON.readValue(file.toFile(), Object.class);
      if (!(value instanceof Map)) {
        throw new IllegalArgumentException(file + ": expected a JSON object");
      }
      return (Map<String, Object>) value;
    } catch (IOException e) {
      throw new IllegalArgumentException(file + ": not valid JSON: " + e.getMessage(), e);
    }
  }

  private static String readString(Path file) {
    try {
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
  }
}
