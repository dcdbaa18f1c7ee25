package io.sparkformers.datasets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every case transformers rendered (resources/chat_templates/cases.json) renders the same, or fails the same. */
class ChatTemplateReferenceTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  static Stream<Arguments> cases() throws IOException {
    JsonNode root;
    try (InputStream in = ChatTemplateReferenceTest.class.getResourceAsStream("/chat_templates/cases.json")) {
      root = JSON.readTree(in);
    }
    List<Arguments> cases = new ArrayList<>();
    for (JsonNode c : root.get("cases")) {
      cases.add(Arguments.of(
          c.get("template").asText() + "/" + c.get("conversation").asText() + "/gen=" + c.get("add_generation_prompt"),
          root.get("templates").get(c.get("template").asText()).asText(),
          JSON.convertValue(root.get("conversations").get(c.get("conversation").asText()), List.class),
          c.get("add_generation_prompt").asBoolean(),
          JSON.convertValue(root.get("special_tokens"), Map.class),
          c.has("rendered") ? c.get("rendered").asText() : null,
          c.has("error") ? c.get("error").asText() : null));
    }
    assertEquals(16, cases.size());
    return cases.stream();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  @SuppressWarnings("unchecked")
  void rendersAsTransformers(String name, String source, List<Map<String, Object>> messages, boolean addGenerationPrompt,
      Map<String, String> specialTokens, String rendered, String error) {
    ChatTemplate template = ChatTemplate.of(source, specialTokens);
    if (rendered != null) {
      assertEquals(rendered, template.render(messages, addGenerationPrompt));
    } else {
      ChatTemplateException e = assertThrows(ChatTemplateException.class,
          () -> template.render(messages, addGenerationPrompt));
      assertEquals(error, e.getMessage());
      assertTrue(e.raisedByTemplate());
    }
  }
}
