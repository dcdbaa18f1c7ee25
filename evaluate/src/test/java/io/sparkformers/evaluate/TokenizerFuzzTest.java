package io.sparkformers.evaluate;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import io.sparkformers.evaluate.internal.PythonText;
import io.sparkformers.evaluate.internal.RougeTokenizer;
import io.sparkformers.evaluate.internal.SacreTokenizers;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Our tokenizers and Python string rules against what Python's re/regex made of 500 nasty strings. */
class TokenizerFuzzTest {

  static List<JsonNode> cases() throws IOException {
    List<JsonNode> out = new ArrayList<>();
    try (BufferedReader r = new BufferedReader(new InputStreamReader(
        TokenizerFuzzTest.class.getResourceAsStream("/tokenizers/fuzz.jsonl"), StandardCharsets.UTF_8))) {
      String line;
      while ((line = r.readLine()) != null) {
        out.add(ReferenceData.JSON.readTree(line));
      }
    }
    return out;
  }

  static List<String> strings(JsonNode array) {
    List<String> out = new ArrayList<>();
    array.forEach(x -> out.add(x.asText()));
    return out;
  }

  @Test
  void sacrebleuTokenizersMatchPythonsRegularExpressions() throws IOException {
    int n = 0;
    for (JsonNode c : cases()) {
      String text = c.get("text").asText();
      String what = "case " + n++ + ": " + c.get("text");
      assertEquals(c.get("13a").asText(), String.join(" ", SacreTokenizers.tokenize13a(text)), what);
      assertEquals(c.get("intl").asText(), String.join(" ", SacreTokenizers.tokenizeIntl(text)), what);
      assertEquals(c.get("zh").asText(), String.join(" ", SacreTokenizers.tokenizeZh(text)), what);
      assertEquals(strings(c.get("char")), SacreTokenizers.tokenizeChar(text), what);
    }
    assertEquals(500, n);
  }

  @Test
  void pythonStringRulesAndRougeTokenizer() throws IOException {
    RougeTokenizer rouge = new RougeTokenizer(false);
    for (JsonNode c : cases()) {
      String text = c.get("text").asText();
      assertEquals(c.get("lower").asText(), PythonText.lower(text), text);
      assertEquals(c.get("rstrip").asText(), PythonText.rstrip(text), text);
      assertEquals(strings(c.get("split")), PythonText.split(text), text);
      assertEquals(strings(c.get("rouge")), rouge.tokenize(text), text);
    }
  }
}
