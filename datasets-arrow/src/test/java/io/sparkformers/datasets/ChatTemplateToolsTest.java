package io.sparkformers.datasets;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A Qwen2.5-style template with tools (indented blocks with {@code {%-}, tool calls as objects, a message
 * without content, {@code tojson}, look-ahead with {@code messages[loop.index0 + 1]} behind {@code or}), and the
 * text Jinja2 renders for it, worked out by hand from Jinja2's rules.
 */
class ChatTemplateToolsTest {
  private static final String TEMPLATE = """
      {%- if tools %}
          {{- '<|im_start|>system\\n' }}
          {%- if messages[0]['role'] == 'system' %}
              {{- messages[0]['content'] }}
          {%- else %}
              {{- 'You are a helpful assistant.' }}
          {%- endif %}
          {{- "\\n\\n# Tools\\n\\n<tools>" }}
          {%- for tool in tools %}
              {{- "\\n" }}
              {{- tool | tojson }}
          {%- endfor %}
          {{- "\\n</tools>\\n\\nReturn {\\"name\\": <function-name>, \\"arguments\\": <args>}<|im_end|>\\n" }}
      {%- else %}
          {%- if messages[0]['role'] == 'system' %}
              {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
          {%- endif %}
      {%- endif %}
      {%- for message in messages %}
          {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
              {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
          {%- elif message.role == "assistant" %}
              {{- '<|im_start|>' + message.role }}
              {%- if message.content %}
                  {{- '\\n' + message.content }}
              {%- endif %}
              {%- for tool_call in message.tool_calls %}
                  {%- if tool_call.function is defined %}
                      {%- set tool_call = tool_call.function %}
                  {%- endif %}
                  {{- '\\n<tool_call>\\n{"name": "' }}
                  {{- tool_call.name }}
                  {{- '", "arguments": ' }}
                  {{- tool_call.arguments | tojson }}
                  {{- '}\\n</tool_call>' }}
              {%- endfor %}
              {{- '<|im_end|>\\n' }}
          {%- elif message.role == "tool" %}
              {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
                  {{- '<|im_start|>user' }}
              {%- endif %}
              {{- '\\n<tool_response>\\n' }}
              {{- message.content }}
              {{- '\\n</tool_response>' }}
              {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
                  {{- '<|im_end|>\\n' }}
              {%- endif %}
          {%- endif %}
      {%- endfor %}
      {%- if add_generation_prompt %}
          {{- '<|im_start|>assistant\\n' }}
      {%- endif %}
      """;

  private static Map<String, Object> map(Object... keysAndValues) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < keysAndValues.length; i += 2) {
      m.put((String) keysAndValues[i], keysAndValues[i + 1]);
    }
    return m;
  }

  @Test
  void toolCallConversation() {
    List<Map<String, Object>> tools = List.of(map("type", "function", "function",
        map("name", "get_weather", "parameters", map("type", "object"))));
    List<Map<String, Object>> messages = List.of(
        map("role", "user", "content", "Weather in Paris?"),
        map("role", "assistant", "content", null, "tool_calls", List.of(map("type", "function", "function",
            map("name", "get_weather", "arguments", map("city", "Paris"))))),
        map("role", "tool", "content", "22C"),
        map("role", "tool", "content", "sunny"));
    String expected = "<|im_start|>system\nYou are a helpful assistant.\n\n# Tools\n\n<tools>\n"
        + "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": {\"type\": \"object\"}}}\n"
        + "</tools>\n\nReturn {\"name\": <function-name>, \"arguments\": <args>}<|im_end|>\n"
        + "<|im_start|>user\nWeather in Paris?<|im_end|>\n"
        + "<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n"
        + "</tool_call><|im_end|>\n"
        + "<|im_start|>user\n<tool_response>\n22C\n</tool_response>\n<tool_response>\nsunny\n</tool_response>"
        + "<|im_end|>\n"
        + "<|im_start|>assistant\n";
    assertEquals(expected, ChatTemplate.of(TEMPLATE).render(messages, true, Map.of("tools", tools)));
  }

  @Test
  void withoutTools() {
    List<Map<String, Object>> messages = List.of(map("role", "system", "content", "Sys"),
        map("role", "user", "content", "Hi"), map("role", "assistant", "content", "Yo"));
    assertEquals("<|im_start|>system\nSys<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nYo"
        + "<|im_end|>\n", ChatTemplate.of(TEMPLATE).render(messages, false));
  }

  /**
   * Renders reuse one copy of the global context per thread: renders on several threads at once, one after
   * another with different messages and after a failing render, give what a first render gives.
   */
  @Test
  void rendersOnSeveralThreadsAndAfterAFailureAreTheSame() throws Exception {
    ChatTemplate t = ChatTemplate.of(TEMPLATE);
    List<Map<String, Object>> a = List.of(map("role", "user", "content", "Hi"), map("role", "assistant", "content",
        "Yo"));
    List<Map<String, Object>> b = List.of(map("role", "system", "content", "S"), map("role", "user", "content",
        "Q"));
    String ra = t.render(a, false);
    String rb = t.render(b, true);
    ChatTemplate failing = ChatTemplate.of("{{ raise_exception('no ' + messages[0]['role']) }}");
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(4);
    try {
      List<java.util.concurrent.Future<Boolean>> done = new java.util.ArrayList<>();
      for (int task = 0; task < 8; task++) {
        done.add(pool.submit(() -> {
          for (int i = 0; i < 50; i++) {
            if (!t.render(a, false).equals(ra) || !t.render(b, true).equals(rb)) {
              return false;
            }
            try {
              failing.render(a, false);
              return false;
            } catch (ChatTemplateException e) {
              if (!e.getMessage().contains("no user")) {
                return false;
              }
            }
          }
          return true;
        }));
      }
      for (java.util.concurrent.Future<Boolean> f : done) {
        assertEquals(true, f.get());
      }
    } finally {
      pool.shutdown();
    }
  }
}
