package io.sparkformers.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class ChatCommandTest {
  /** transformers' Mistral template of the reference cases: it rejects roles that do not alternate. */
  private static final String MISTRAL = "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user')"
      + " != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/"
      + "assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
      + "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception("
      + "'Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";

  @TempDir Path dir;
  private StringWriter out = new StringWriter();
  private StringWriter err = new StringWriter();

  private int run(String... args) {
    out = new StringWriter();
    err = new StringWriter();
    CommandLine cli = SparkformersCommand.commandLine();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    return cli.execute(args);
  }

  private Path conversations() throws IOException {
    return Files.writeString(dir.resolve("chats.jsonl"),
        "{\"messages\": [{\"role\": \"user\", \"content\": \"1+1?\"}, {\"role\": \"assistant\", \"content\": \"2\"}, "
            + "{\"role\": \"user\", \"content\": \"é \\\"q\\\"\\nx\"}]}\n"
            + "\n"
            + "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"user\", \"content\": \"b\"}]}\n");
  }

  @Test
  void rendersEachLineWithATemplateFileAndReportsRejectedConversations() throws IOException {
    Path template = Files.writeString(dir.resolve("mistral.jinja"), MISTRAL);
    assertEquals(0, run("chat", "render", "--template", template.toString(), "--input", conversations().toString(),
        "--bos-token", "<s>", "--eos-token", "</s>"), err.toString());
    assertEquals("{\"text\":\"<s>[INST] 1+1? [/INST]2</s>[INST] é \\\"q\\\"\\nx [/INST]\"}\n"
        + "{\"error\":\"Conversation roles must alternate user/assistant/user/assistant/...\"}\n", out.toString());

    // No --bos-token/--eos-token: the variables are undefined; {{ bos_token }} prints nothing, and
    // content + eos_token fails as in Jinja2 (the first conversation reaches it, the second is rejected before).
    assertEquals(0, run("chat", "render", "--template", template.toString(), "--input", conversations().toString()));
    assertEquals("{\"error\":\"'eos_token' is undefined\"}\n"
        + "{\"error\":\"Conversation roles must alternate user/assistant/user/assistant/...\"}\n", out.toString());
  }

  @Test
  void rendersWithAModelFoldersTemplateAndSpecialTokens() throws IOException {
    Path model = Files.createDirectories(dir.resolve("model"));
    Files.writeString(model.resolve("tokenizer_config.json"), "{\"bos_token\": {\"content\": \"<|begin|>\"}, "
        + "\"eos_token\": \"<|end|>\", \"chat_template\": \"{{ bos_token }}{% for m in messages %}<{{ m.role }}>"
        + "{{ m.content }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}\"}");
    Path input = Files.writeString(dir.resolve("one.jsonl"), "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}\n");
    assertEquals(0, run("chat", "render", "--model", model.toString(), "--input", input.toString(),
        "--add-generation-prompt"), err.toString());
    assertEquals("{\"text\":\"<|begin|><user>Hi<|end|><assistant>\"}\n", out.toString());
    assertEquals(0, run("chat", "render", "--model", model.toString(), "--input", input.toString(),
        "--eos-token", "</s>"), err.toString());
    assertEquals("{\"text\":\"<|begin|><user>Hi</s>\"}\n", out.toString());
  }

  @Test
  void toolsOnALineReachTheTemplate() throws IOException {
    Path template = Files.writeString(dir.resolve("t.jinja"), "{% if tools %}{{ tools|tojson }}{% else %}none"
        + "{% endif %}\n");
    Path input = Files.writeString(dir.resolve("in.jsonl"), "{\"messages\": [], \"tools\": [{\"name\": \"f\"}]}\n"
        + "{\"messages\": []}\n");
    assertEquals(0, run("chat", "render", "--template", template.toString(), "--input", input.toString()));
    assertEquals("{\"text\":\"[{\\\"name\\\": \\\"f\\\"}]\"}\n{\"text\":\"none\"}\n", out.toString());
  }

  @Test
  void aLineWithToolsUsesTheModelsToolUseTemplate() throws IOException {
    Path model = Files.createDirectories(dir.resolve("named"));
    Files.writeString(model.resolve("tokenizer_config.json"), "{\"chat_template\": [{\"name\": \"default\", "
        + "\"template\": \"plain\"}, {\"name\": \"tool_use\", \"template\": \"tools={{ tools|length }}\"}]}");
    Path input = Files.writeString(dir.resolve("in.jsonl"), "{\"messages\": [], \"tools\": [{\"name\": \"f\"}]}\n"
        + "{\"messages\": []}\n");
    assertEquals(0, run("chat", "render", "--model", model.toString(), "--input", input.toString()), err.toString());
    assertEquals("{\"text\":\"tools=1\"}\n{\"text\":\"plain\"}\n", out.toString());
    assertEquals(0, run("chat", "render", "--model", model.toString(), "--template-name", "default", "--input",
        input.toString()), err.toString());
    assertEquals("{\"text\":\"plain\"}\n{\"text\":\"plain\"}\n", out.toString());
  }

  @Test
  void aBadInputLineExitsOneNamingTheFileAndLine() throws IOException {
    Path template = Files.writeString(dir.resolve("t.jinja"), "{{ messages|length }}");
    String[][] bad = {
      {"{\"messages\": []}\n{\"messages\": [}\n", ":2:15: not valid JSON"},
      {"{\"messages\": []}\n\n[1]\n", ":3: expected a JSON object, got array"},
      {"{\"text\": \"x\"}\n", ":1: missing key 'messages'"},
      {"{\"messages\": {\"role\": \"user\"}}\n", ":1: key 'messages': expected a list, got object"},
      {"{\"messages\": [\"hi\"]}\n", ":1: key 'messages' item 0: expected an object, got string"},
    };
    for (String[] c : bad) {
      Path input = Files.writeString(dir.resolve("bad.jsonl"), c[0]);
      assertEquals(1, run("chat", "render", "--template", template.toString(), "--input", input.toString()), c[0]);
      assertTrue(err.toString().startsWith("sparkformers chat render: " + input + c[1]), err.toString());
      assertEquals("", out.toString(), "nothing is rendered from a bad file");
    }
  }

  @Test
  void aBadTemplateOrMissingFileExitsOne() throws IOException {
    Path input = conversations();
    Path broken = Files.writeString(dir.resolve("broken.jinja"), "{% for m in messages %}\n{{ m.content }}");
    assertEquals(1, run("chat", "render", "--template", broken.toString(), "--input", input.toString()));
    assertTrue(err.toString().startsWith("sparkformers chat render: " + broken + ": chat template syntax error"), err.toString());
    assertTrue(err.toString().contains("endfor"), err.toString());

    assertEquals(ExitCodes.INPUT_MISSING, run("chat", "render", "--template", dir.resolve("nope.jinja").toString(),
        "--input", input.toString()));
    assertEquals("sparkformers chat render: no such template file: " + dir.resolve("nope.jinja") + "\n", err.toString());

    Path template = Files.writeString(dir.resolve("t.jinja"), "x");
    assertEquals(ExitCodes.INPUT_MISSING, run("chat", "render", "--template", template.toString(), "--input",
        dir.resolve("nope.jsonl").toString()));
    assertEquals("sparkformers chat render: no such input file: " + dir.resolve("nope.jsonl") + "\n", err.toString());

    Path empty = Files.createDirectories(dir.resolve("empty-model"));
    assertEquals(1, run("chat", "render", "--model", empty.toString(), "--input", input.toString()));
    assertTrue(err.toString().startsWith("sparkformers chat render: no chat template in " + empty), err.toString());
  }

  @Test
  void usageErrorsExitTwo() throws IOException {
    Path input = conversations();
    Path template = Files.writeString(dir.resolve("t.jinja"), "x");
    assertEquals(2, run("chat", "render", "--input", input.toString()));
    assertEquals(2, run("chat", "render", "--template", template.toString(), "--model", dir.toString(),
        "--input", input.toString()));
    assertTrue(err.toString().contains("mutually exclusive"), err.toString());
    assertEquals(2, run("chat", "render", "--template", template.toString()));
    assertEquals(2, run("chat", "render", "--template", template.toString(), "--template-name", "x",
        "--input", input.toString()));
    assertEquals(2, run("chat"));
  }
}
