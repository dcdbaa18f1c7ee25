package io.sparkformers.evaluate;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** Reads the copied reference cases from src/test/resources/reference. */
final class ReferenceData {
  static final ObjectMapper JSON = new ObjectMapper();

  record TextExample(String prediction, List<String> references) {}

  record LabelExample(Object prediction, Object reference) {}

  private ReferenceData() {}

  static JsonNode expected(String kase) {
    try (InputStream in = open(kase + "/expected.json")) {
      return JSON.readTree(in);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static List<JsonNode> lines(String kase) {
    List<JsonNode> out = new ArrayList<>();
    try (BufferedReader r = new BufferedReader(new InputStreamReader(open(kase + "/input.jsonl"), StandardCharsets.UTF_8))) {
      String line;
      while ((line = r.readLine()) != null) {
        if (!line.isBlank()) {
          out.add(JSON.readTree(line));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out;
  }

  static List<TextExample> text(String kase) {
    List<TextExample> out = new ArrayList<>();
    for (JsonNode n : lines("text/" + kase)) {
      List<String> refs = new ArrayList<>();
      n.get("references").forEach(x -> refs.add(x.isNull() ? null : x.asText()));
      out.add(new TextExample(n.get("prediction").asText(), refs));
    }
    return out;
  }

  static List<LabelExample> labels(String kase) {
    List<LabelExample> out = new ArrayList<>();
    for (JsonNode n : lines("f1/" + kase)) {
      out.add(new LabelExample(value(n.get("prediction")), value(n.get("reference"))));
    }
    return out;
  }

  static Object value(JsonNode n) {
    return n.isIntegralNumber() ? (Object) n.asLong() : n.asText();
  }

  /** A float as the reference writes it: a number, or "NaN"/"Infinity". */
  static double num(JsonNode n) {
    return n.isTextual() ? Double.parseDouble(n.asText()) : n.asDouble();
  }

  private static InputStream open(String path) {
    InputStream in = ReferenceData.class.getResourceAsStream("/reference/" + path);
    if (in == null) {
      throw new IllegalStateException("missing test resource reference/" + path);
    }
    return in;
  }
}
