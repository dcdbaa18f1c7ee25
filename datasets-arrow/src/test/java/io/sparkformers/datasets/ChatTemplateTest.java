package io.sparkformers.datasets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Chat templates as Jinja2 renders them in transformers. Each test below is one place where jinjava alone would
 * render differently from Jinja2 (the expected strings are what Jinja2 gives), or one of transformers' own rules.
 */
class ChatTemplateTest {
  private static final List<Map<String, Object>> CHAT = List.of(
      message("system", "Be brief."), message("user", "Hi"), message("assistant", "Hello!"));

  private static Map<String, Object> message(String role, Object content) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("role", role);
    m.put("content", content);
    return m;
  }

  private static String render(String source) {
    return ChatTemplate.of(source).render(CHAT, false);
  }

  private static String render(String source, Map<String, ?> extra) {
    return ChatTemplate.of(source).render(CHAT, false, extra);
  }

  @Test
  void loopVariablesPrintAsPythonBooleans() {
    // jinjava prints Java's true/false; Jinja2 prints str(True).
    assertEquals("0TrueFalse|1FalseFalse|2FalseTrue|",
        render("{% for m in messages %}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}|{% endfor %}"));
    assertEquals("True", render("{{ true|string }}"));
  }

  @Test
  void listsAndDictsPrintAsPythonRepr() {
    // jinjava prints {role=user, ...} and [a, b]; Jinja2 prints repr of the items.
    assertEquals("{'role': 'user', 'content': 'Hi'}", render("{{ messages[1] }}"));
    assertEquals("[1, 'a', None, True, 1.5, \"it's\"]", render("{{ [1, 'a', none, true, 1.5, \"it's\"] }}"));
  }

  @Test
  void tojsonIsJsonDumpsWithSpacesAndUnicodeKept() {
    // jinjava's tojson is compact ({"a":1}); transformers' is json.dumps(ensure_ascii=False).
    Map<String, Object> call = new LinkedHashMap<>();
    call.put("name", "get_weather");
    call.put("arguments", new LinkedHashMap<>(Map.of("city", "Zürich")));
    assertEquals("{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Zürich\"}}",
        render("{{ call|tojson }}", Map.of("call", call)));
    assertEquals("[\n  1,\n  {\n    \"a\": null\n  }\n]",
        render("{{ [1, {'a': none}]|tojson(indent=2) }}"));
    assertEquals("\"say \\\"hi\\\"\\n<b>\"", render("{{ 'say \"hi\"\\n<b>'|tojson }}"));
    assertEquals("[]|{}|1.0|1e-05", render("{{ []|tojson }}|{{ {}|tojson }}|{{ 1.0|tojson }}|{{ 0.00001|tojson }}"));
  }

  @Test
  void raiseExceptionCarriesTheTemplatesMessage() {
    // jinjava has no raise_exception: an unknown function would render as nothing.
    ChatTemplateException e = assertThrows(ChatTemplateException.class,
        () -> render("{% if messages[0].role == 'system' %}{{ raise_exception('No system role: ' ~ messages|length) }}"
            + "{% endif %}"));
    assertEquals("No system role: 3", e.getMessage());
    assertTrue(e.raisedByTemplate());
  }

  @Test
  void syntaxErrorNamesTheLine() {
    ChatTemplateException e = assertThrows(ChatTemplateException.class,
        () -> ChatTemplate.of("line one\n{% for m in messages %}{{ m.content }}"));
    assertFalse(e.raisedByTemplate());
    assertTrue(e.getMessage().contains("line 2"), e.getMessage());
    assertTrue(e.getMessage().contains("endfor"), e.getMessage());
  }

  @Test
  void unknownFiltersAndTestsAreErrors() {
    // jinjava renders an unknown filter as nothing and an unknown test as false; Jinja2 refuses the template.
    assertEquals("chat template syntax error: No filter named 'nosuch'.", assertThrows(ChatTemplateException.class,
        () -> ChatTemplate.of("{{ messages|length }}{{ 'x'|nosuch }}")).getMessage());
    assertEquals("chat template syntax error: No test named 'nosuch'.", assertThrows(ChatTemplateException.class,
        () -> ChatTemplate.of("{% if 'a|b' is not nosuch %}{% endif %}")).getMessage());
    assertEquals("x", render("{{ 'a|b is c' and 'x' or 'y' }}"));
  }

  @Test
  void nullContentIsDefinedFalsyAndPrintsNone() {
    // A JSON null is Python's None: defined, falsy, printed "None". jinjava would call it undefined.
    Map<String, Object> toolCall = new LinkedHashMap<>(Map.of("name", "f"));
    Map<String, Object> assistant = message("assistant", null);
    assistant.put("tool_calls", List.of(toolCall));
    String source = "{% for m in messages %}{{ m.content is defined }},{{ m.content is none }},"
        + "{% if m.content %}T{% else %}F{% endif %},{{ m.content }},{{ m.tool_calls is defined }};{% endfor %}";
    assertEquals("True,True,F,None,True;",
        ChatTemplate.of(source).render(List.of(assistant), false));
  }

  @Test
  void theStringFalseIsTrue() {
    // jinjava calls the strings "false"/"False" false; in Python only the empty string is.
    List<Map<String, Object>> chat = List.of(message("user", "false"), message("assistant", ""));
    assertEquals("T,F,T,T,x", ChatTemplate.of("{% for m in messages %}{% if m.content %}T{% else %}F{% endif %},"
        + "{% endfor %}{% if not messages[1].content %}T{% elif messages[0].content %}E{% endif %},"
        + "{{ 'F' if not messages[0].content else 'T' }},{{ messages[0].content and 'x' }}").render(chat, false));
  }

  @Test
  void notBindsLooserThanTestsAndComparisons() {
    // JUEL reads "not x is defined" as "(not x) is defined", always True; Jinja2 as "not (x is defined)".
    assertEquals("False|True|False|True|False", render("{{ not messages is defined }}|{{ not missing is defined }}|"
        + "{{ not messages[0].role == 'system' }}|{{ not 'x' in 'abc' and true }}|{{ not not false }}"));
    assertEquals("kept", ChatTemplate.of("{% if not flag is defined %}{% set flag = 'reset' %}{% endif %}{{ flag }}")
        .render(CHAT, false, Map.of("flag", "kept")));
  }

  @Test
  void stringsAreIterable() {
    // jinjava's iterable test is false for strings; Python iterates them.
    assertEquals("True,True,True,False", render("{{ messages[0].content is iterable }},{{ messages is iterable }},"
        + "{{ messages[0] is iterable }},{{ 3 is iterable }}"));
  }

  @Test
  void andAndOrReturnAnOperand() {
    // JUEL's and gives True/False; Python's gives an operand, used as "content or ''".
    assertEquals("Hi||fallback|0", render("{{ messages[0].content and messages[1].content }}|{{ '' and 'x' }}|"
        + "{{ missing or 'fallback' }}|{{ 0 and 1 }}"));
  }

  @Test
  void theNoneLiteralIsNone() {
    // jinjava reads none as an undefined name: printed empty, skipped by default; Jinja2's None prints "None".
    assertEquals("None|None|1-None-a|True|True|True", render("{{ none }}|{{ none|default('d') }}|"
        + "{{ [1, none, 'a']|join('-') }}|{% set x = none %}{{ x is none }}|{{ x is defined }}|{{ tools == none }}"));
  }

  @Test
  void absentKeysAreUndefined() {
    Map<String, Object> tool = new LinkedHashMap<>(Map.of("role", "tool"));
    assertEquals("False,True,,F,False,True", ChatTemplate.of(
        "{{ messages[0].content is defined }},{{ messages[0]['content'] is not defined }},{{ messages[0].content }},"
            + "{% if messages[0].content %}T{% else %}F{% endif %},{{ messages[0].content is none }},"
            + "{{ messages[0].get('content') is none }}").render(List.of(tool), false));
  }

  @Test
  void toolsAndDocumentsAreNoneWhenNotGiven() {
    // transformers always passes tools= and documents=, None by default.
    assertEquals("True,True,None,F", render("{{ tools is defined }},{{ tools is none }},{{ documents }},"
        + "{% if tools %}T{% else %}F{% endif %}"));
    List<Map<String, Object>> tools = List.of(new LinkedHashMap<>(Map.of("name", "f")));
    assertEquals("[{\"name\": \"f\"}]", render("{{ tools|tojson }}", Map.of("tools", tools)));
  }

  @Test
  void trimBlocksAndLstripBlocks() {
    // transformers' environment: trim_blocks=True, lstrip_blocks=True; and Jinja2 drops a final newline.
    String source = "{% for m in messages %}\n    {% if m.role == 'user' %}\n<{{ m.content }}>\n    {% endif %}\n"
        + "{% endfor %}\n";
    assertEquals("<Hi>\n", render(source));
    // jinjava's own keep_trailing_newline=False would also strip a newline an expression prints last.
    assertEquals("Hi\n", render("{{ messages[1].content + '\\n' }}\n"));
  }

  @Test
  void lstripBlocksOnlyAtTheStartOfALine() {
    // jinjava's lstrip_blocks also eats the space in "a {% if %}"; Jinja2's strips from the line start only.
    assertEquals("a b c|Be brief. Hi Hello! |x\ny|x\n  y", render("a {% if true %}b{% endif %} c|"
        + "{% for m in messages %}{{ m.content }} {% endfor %}|x\n  {% if true %}y{% endif %}|x\n  {%+ if true %}y"
        + "{% endif %}"));
  }

  @Test
  void forElseRendersOnlyForNoItems() {
    // jinjava renders a for loop's else part after every item.
    assertEquals("SUA|none|", render("{% for m in messages %}{{ m.role[0]|upper }}{% else %}none{% endfor %}|"
        + "{% for m in [] %}x{% else %}none{% endfor %}|"
        + "{% for m in messages %}{% if false %}{% else %}{% endif %}{% endfor %}"));
    assertEquals("u", render("{%- for m in messages if m.role == 'user' -%}\n  u\n{%- else -%}\n  none\n"
        + "{%- endfor %}\n\n"));
  }

  @Test
  void loopFiltersSkipItemsAndCountOnlyTheKept() {
    // jinjava ignores "if" in "for x in items if condition" and loops over everything.
    assertEquals("1user False,2assistant True,|b", render("{% for m in messages if m.role != 'system' %}"
        + "{{ loop.index }}{{ m.role }} {{ loop.last }},{% endfor %}|"
        + "{% for k, v in {'a': 1, 'b': 2}.items() if v > 1 %}{{ k }}{% endfor %}"));
  }

  @Test
  void whitespaceControlMinus() {
    assertEquals("a|b", render("a  {%- if true -%}  |  {%- endif -%}  b"));
    // The trimming applies to the template's text next to an expression, never to what the expression prints.
    assertEquals("  Hi", render("{{- '  ' -}}  {{- messages[1].content -}}  "));
  }

  @Test
  void namespaceCarriesValuesOutOfLoops() {
    assertEquals("1", render("{% set ns = namespace(last=-1) %}{% for m in messages %}{% if m.role == 'user' %}"
        + "{% set ns.last = loop.index0 %}{% endif %}{% endfor %}{{ ns.last }}"));
  }

  @Test
  void stringConcatenationAndLength() {
    assertEquals("<system>Be brief.|3|2|a1", render("{{ '<' + messages[0]['role'] + '>' + messages[0].content }}|"
        + "{{ messages|length }}|{{ messages[1].content|length }}|{{ 'a' ~ 1 }}"));
  }

  @Test
  void plusOnAStringAndAnUndefinedOrNonStringFails() {
    // jinjava gives "Hinull" and "a1"; Jinja2 raises UndefinedError and TypeError.
    ChatTemplateException e = assertThrows(ChatTemplateException.class,
        () -> render("{{ messages[1].content + eos_token }}"));
    assertEquals("'eos_token' is undefined", e.getMessage());
    assertFalse(e.raisedByTemplate());
    assertEquals("can only concatenate str (not \"int\") to str",
        assertThrows(ChatTemplateException.class, () -> render("{{ 'a' + 1 }}")).getMessage());
    assertEquals("can only concatenate str (not \"NoneType\") to str",
        assertThrows(ChatTemplateException.class, () -> render("{{ 'a' + tools }}")).getMessage());
    assertEquals("3|[1, 2]|ab", render("{{ 1 + 2 }}|{{ [1] + [2] }}|{{ 'a' + 'b' }}"));
  }

  @Test
  void tildeJoinsValuesAsPythonStr() {
    // jinjava's ~ prints true and [a]; Jinja2's ~ is str() of each side; undefined is empty.
    assertEquals("aTrueNone['x']1.5", render("{{ 'a' ~ (1 == 1) ~ tools ~ ['x'] ~ 1.5 ~ missing }}"));
  }

  @Test
  void trimFilterStripsUnicodeWhitespaceOnly() {
    // jinjava trims every char up to U+0020 (control chars too) and no Unicode spaces; Python's strip() the reverse.
    assertEquals("x", render("{{ '\u3000 x\u00a0\\n'|trim }}"));
    assertEquals("\u0001x", render("{{ text|trim }}", Map.of("text", "\u0001x ")));
  }

  @Test
  void pythonStringMethods() {
    // jinjava calls Java methods: 'x'.upper() fails and 'a,b'.split(',') gives a Java array.
    assertEquals("hi|HI|['a', 'b']|['a', 'b c']|True|True|x-y|a+b|Be Brief.|2",
        render("{{ '  hi \\n'.strip() }}|{{ 'hi'.upper() }}|{{ 'a,b'.split(',') }}|{{ ' a  b c '.split(None, 1) }}|"
            + "{{ 'abc'.startswith('a') }}|{{ 'abc'.endswith(('x', 'c')) }}|{{ 'x y'.replace(' ', '-') }}|"
            + "{{ '+'.join(['a', 'b']) }}|{{ messages[0].content.title() }}|{{ 'aXbX'.count('X') }}"));
    assertEquals("xx|ab", render("{{ '--xx--'.strip('-') }}|{{ 'abc'.rstrip('c') }}"));
  }

  @Test
  void pythonDictMethods() {
    // jinjava has items() on its own dicts only; get(key, default) and keys() are Python's.
    assertEquals("role=system;content=Be brief.;|none|['role', 'content']|['system', 'Be brief.']",
        render("{% for k, v in messages[0].items() %}{{ k }}={{ v }};{% endfor %}|"
            + "{{ messages[0].get('tool_calls', 'none') }}|{{ messages[0].keys() }}|{{ messages[0].values() }}"));
  }

  @Test
  void slicesWithAStep() {
    // jinjava's parser rejects [::-1]; Jinja2 takes Python slices.
    assertEquals("assistant,user,system,|ca|1", render(
        "{% for m in messages[::-1] %}{{ m.role }},{% endfor %}|{{ 'abc'[::-2] }}|{{ messages[:2:5]|length }}"));
    assertEquals("user|'[::-1]'", render("{{ messages[1:][0].role }}|{{ \"'[::-1]'\" }}"));
  }

  @Test
  void lengthCountsCodePoints() {
    // jinjava counts UTF-16 units ('😀' is 2); Python's len() counts code points.
    assertEquals("1|3", render("{{ text|length }}|{{ messages|length }}", Map.of("text", "\uD83D\uDE00")));
  }

  @Test
  void itemsFilterAndStrFormat() {
    // Jinja2 3.1's |items and str.format are missing in jinjava ('{}'.format(x) printed x alone).
    assertEquals("[('role', 'system'), ('content', 'Be brief.')]|Hi Be brief. {x}",
        render("{{ messages[0]|items|list }}|{{ 'Hi {} {{x}}'.format(messages[0].content) }}"));
  }

  @Test
  void percentFormatsStringsAndIsAFloorModulo() {
    // JUEL's % cannot take a string (an error) and keeps the dividend's sign (-7 % 2 is -1); Python's formats
    // and takes the divisor's sign.
    assertEquals("a=1 'q' 100%|[INST] Be brief.|1|1|0.5", render("{{ '%s=%d %r 100%%' % ('a', 1, 'q') }}|"
        + "{{ '[INST] %s' % messages[0].content }}|{{ -7 % 2 }}|{{ 7 % 3 }}|{{ -7.5 % 2 }}"));
    assertEquals("not enough arguments for format string",
        assertThrows(ChatTemplateException.class, () -> render("{{ '%s %s' % 'a' }}")).getMessage());
  }

  @Test
  void pythonStringEscapes() {
    // jinjava's scanner rejects \\u and \\x escapes ("invalid escape sequence"); Python strings take them.
    assertEquals("é|\uD83D\uDE00|A|it's|a\tb", render("{{ '\\u00e9' }}|{{ '\\U0001F600' }}|{{ '\\x41' }}|"
        + "{{ 'it\\u0027s' }}|{{ 'a\\tb' }}"));
  }

  @Test
  void stringIndexing() {
    // jinjava indexes lists only.
    assertEquals("B|.", render("{{ messages[0].content[0] }}|{{ messages[0].content[-1] }}"));
  }

  @Test
  void dictLiteralsAndItems() {
    assertEquals("a=1;b=2;", render("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}"));
    assertEquals("ab", render("{% for k in {'a': 1, 'b': 2} %}{{ k }}{% endfor %}"));
  }

  @Test
  void isStringAndIsMappingTests() {
    Map<String, Object> m = message("user", List.of(new LinkedHashMap<>(Map.of("type", "text", "text", "hi"))));
    assertEquals("False,True,True", ChatTemplate.of("{{ messages[0].content is string }},{{ messages[0].content is "
        + "iterable }},{{ messages[0].content[0] is mapping }}").render(List.of(m), false));
  }

  @Test
  void loopControls() {
    // transformers enables jinja2.ext.loopcontrols.
    assertEquals("system", render("{% for m in messages %}{% if loop.index0 == 1 %}{% break %}{% endif %}"
        + "{{ m.role }}{% endfor %}"));
  }

  @Test
  void strftimeNow() {
    assertEquals(String.valueOf(java.time.Year.now().getValue()), render("{{ strftime_now('%Y') }}"));
  }

  @Test
  void specialTokensAndExtraVariables() {
    ChatTemplate t = ChatTemplate.of("{{ bos_token }}{{ messages[1].content }}{{ eos_token }}{{ suffix }}",
        Map.of("bos_token", "<s>", "eos_token", "</s>"));
    assertEquals("<s>Hi</s>!", t.render(CHAT, false, Map.of("suffix", "!")));
    assertEquals("[BOS]Hi</s>", t.render(CHAT, false, Map.of("bos_token", "[BOS]")));
    assertEquals("Hi", ChatTemplate.of(t.source()).render(CHAT, false));
    assertThrows(IllegalArgumentException.class, () -> t.render(CHAT, false, Map.of("messages", List.of())));
  }

  @Test
  void generationBlocksReportTheirSpans() {
    String source = "{% for m in messages %}<{{ m.role }}>{% if m.role == 'assistant' %}{% generation %}"
        + "{{ m.content }}</s>{% endgeneration %}{% else %}{{ m.content }}{% endif %}{% endfor %}";
    RenderedChat r = ChatTemplate.of(source).renderWithGenerationSpans(CHAT, false, Map.of());
    assertEquals("<system>Be brief.<user>Hi<assistant>Hello!</s>", r.text());
    assertEquals(List.of(new RenderedChat.Span(36, 46)), r.generationSpans());
    assertEquals("Hello!</s>", r.text().substring(36, 46));
    assertEquals(r.text(), ChatTemplate.of(source).render(CHAT, false));
  }

  @Test
  void fromPretrainedReadsTokenizerConfig(@TempDir Path dir) throws IOException {
    Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": \"{{ bos_token }}{{ messages[0]"
        + ".content }}{{ eos_token }}{{ pad_token }}\", \"bos_token\": {\"content\": \"<s>\", \"lstrip\": false}, "
        + "\"eos_token\": \"</s>\", \"pad_token\": null, \"model_max_length\": 512}");
    ChatTemplate t = ChatTemplate.fromPretrained(dir);
    assertEquals(Map.of("bos_token", "<s>", "eos_token", "</s>"), t.specialTokens());
    assertEquals("<s>Be brief.</s>", t.render(CHAT, false));
  }

  @Test
  void fromPretrainedNamedTemplates(@TempDir Path dir) throws IOException {
    Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": [{\"name\": \"default\", "
        + "\"template\": \"D\"}, {\"name\": \"tool_use\", \"template\": \"T\"}]}");
    assertEquals(java.util.Set.of("default", "tool_use"), ChatTemplate.templateNames(dir));
    assertEquals("D", ChatTemplate.fromPretrained(dir).render(CHAT, false));
    assertEquals("T", ChatTemplate.fromPretrained(dir, "tool_use").render(CHAT, false));
    ChatTemplateException e = assertThrows(ChatTemplateException.class,
        () -> ChatTemplate.fromPretrained(dir, "rag"));
    assertTrue(e.getMessage().contains("[default, tool_use]"), e.getMessage());
  }

  @Test
  void fromPretrainedPrefersChatTemplateFiles(@TempDir Path dir) throws IOException {
    // transformers 5 saves chat_template.jinja (+ additional_chat_templates/NAME.jinja); they win over the config.
    Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": \"old\", \"eos_token\": \"</s>\"}");
    Files.writeString(dir.resolve("chat_template.jinja"), "{{ messages[1].content }}{{ eos_token }}\n");
    Files.createDirectories(dir.resolve("additional_chat_templates"));
    Files.writeString(dir.resolve("additional_chat_templates/rag.jinja"), "R");
    assertEquals("Hi</s>", ChatTemplate.fromPretrained(dir).render(CHAT, false));
    assertEquals("R", ChatTemplate.fromPretrained(dir, "rag").render(CHAT, false));
  }

  @Test
  void fromPretrainedLegacyChatTemplateJson(@TempDir Path dir) throws IOException {
    Files.writeString(dir.resolve("chat_template.json"), "{\"chat_template\": \"L{{ messages|length }}\"}");
    assertEquals("L3", ChatTemplate.fromPretrained(dir).render(CHAT, false));
  }

  @Test
  void fromPretrainedWithoutTemplate(@TempDir Path dir) throws IOException {
    Files.writeString(dir.resolve("tokenizer_config.json"), "{\"eos_token\": \"</s>\"}");
    ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> ChatTemplate.fromPretrained(dir));
    assertTrue(e.getMessage().contains("no chat template"), e.getMessage());
  }

  @Test
  void serializesForSparkTasks() throws Exception {
    ChatTemplate t = ChatTemplate.of("{{ bos_token }}{{ messages|length }}", Map.of("bos_token", "<s>"));
    java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
    try (java.io.ObjectOutputStream out = new java.io.ObjectOutputStream(bytes)) {
      out.writeObject(t);
    }
    try (java.io.ObjectInputStream in = new java.io.ObjectInputStream(
        new java.io.ByteArrayInputStream(bytes.toByteArray()))) {
      assertEquals("<s>3", ((ChatTemplate) in.readObject()).render(CHAT, false));
    }
  }

  @Test
  void messagesAreNotChangedByRendering() {
    List<Map<String, Object>> chat = new ArrayList<>(CHAT);
    ChatTemplate.of("{% set x = messages.pop() %}{{ messages|length }}").render(chat, false);
    assertEquals(3, chat.size());
  }
}
