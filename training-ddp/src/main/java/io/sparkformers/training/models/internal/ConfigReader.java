package io.sparkformers.training.models.internal;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import com.google.gson.JsonSyntaxException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Reads typed values out of a config.json object; every error names the file and the key and says what was
 * expected. Keys read are remembered so that the rest can be kept verbatim ({@link #unreadKeys()}).
 */
public final class ConfigReader {
  private final JsonObject json;
  private final String source;
  private final java.util.HashSet<String> read = new java.util.HashSet<>();

  public ConfigReader(JsonObject json, String source) {
    this.json = json;
    this.source = source;
  }

  /** Parses a JSON file whose top level must be an object. */
  public static JsonObject parseObject(Path file) throws IOException {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new NoSuchFileException(file.toString(), null, "no such file (a model folder needs config.json)");
    }
    return parseObject(text, file.toString());
  }

  public static JsonObject parseObject(String text, String source) {
    JsonElement root;
    try {
      root = JsonParser.parseString(text);
    } catch (JsonSyntaxException e) {
      throw new IllegalArgumentException(source + ": not valid JSON: " + e.getMessage(), e);
    }
    if (root == null || !root.isJsonObject()) {
      throw new IllegalArgumentException(source + ": expected a JSON object at the top level");
    }
    return root.getAsJsonObject();
  }

  public String source() {
    return source;
  }

  public boolean has(String key) {
    JsonElement e = json.get(key);
    return e != null && !e.isJsonNull();
  }

  /** The first of the given keys that is present (aliases, as transformers' attribute_map), or null. */
  private String present(String... keys) {
    for (String k : keys) {
      read.add(k);
    }
    for (String k : keys) {
      if (has(k)) {
        return k;
      }
    }
    return null;
  }

  /** The raw value of {@code key} (an object or list a config class interprets itself), or null when absent or null. */
  public JsonElement optElement(String key) {
    String k = present(key);
    return k == null ? null : json.get(k);
  }

  public int requireInt(String... keys) {
    String k = present(keys);
    if (k == null) {
      throw new IllegalArgumentException(source + ": missing required key '" + keys[0] + "' (an integer)");
    }
    return asInt(k);
  }

  public int optInt(int fallback, String... keys) {
    String k = present(keys);
    return k == null ? fallback : asInt(k);
  }

  public Integer optInteger(String... keys) {
    String k = present(keys);
    return k == null ? null : asInt(k);
  }

  public double optDouble(double fallback, String... keys) {
    String k = present(keys);
    if (k == null) {
      return fallback;
    }
    JsonElement e = json.get(k);
    if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
      throw new IllegalArgumentException(source + ": key '" + k + "' must be a number, found " + e);
    }
    return e.getAsDouble();
  }

  public boolean optBoolean(boolean fallback, String... keys) {
    String k = present(keys);
    if (k == null) {
      return fallback;
    }
    JsonElement e = json.get(k);
    if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
      throw new IllegalArgumentException(source + ": key '" + k + "' must be true or false, found " + e);
    }
    return e.getAsBoolean();
  }

  public String optString(String fallback, String... keys) {
    String k = present(keys);
    if (k == null) {
      return fallback;
    }
    JsonElement e = json.get(k);
    if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
      throw new IllegalArgumentException(source + ": key '" + k + "' must be a string, found " + e);
    }
    return e.getAsString();
  }

  public List<Integer> optIntList(List<Integer> fallback, String... keys) {
    String k = present(keys);
    if (k == null) {
      return fallback;
    }
    JsonElement e = json.get(k);
    if (!e.isJsonArray()) {
      throw new IllegalArgumentException(source + ": key '" + k + "' must be a list of integers, found " + e);
    }
    List<Integer> out = new ArrayList<>();
    JsonArray a = e.getAsJsonArray();
    for (int i = 0; i < a.size(); i++) {
      out.add(intOf(a.get(i), k + "[" + i + "]"));
    }
    return List.copyOf(out);
  }

  /** Token ids: an integer or a list of integers (eos_token_id may be either in transformers). */
  public List<Integer> optTokenIds(String key) {
    String k = present(key);
    if (k == null) {
      return List.of();
    }
    JsonElement e = json.get(k);
    if (e.isJsonArray()) {
      return optIntList(List.of(), key);
    }
    return List.of(asInt(k));
  }

  private int asInt(String k) {
    return intOf(json.get(k), k);
  }

  private int intOf(JsonElement e, String k) {
    if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber()) {
      double d = e.getAsDouble();
      if (d == Math.rint(d) && Math.abs(d) <= Integer.MAX_VALUE) {
        return (int) d;
      }
    }
    throw new IllegalArgumentException(source + ": key '" + k + "' must be an integer, found " + e);
  }

  /** The keys this reader did not interpret, verbatim, to be written back unchanged. */
  public JsonObject unreadKeys() {
    JsonObject rest = new JsonObject();
    for (String k : json.keySet()) {
      if (!read.contains(k)) {
        rest.add(k, json.get(k).deepCopy());
      }
    }
    return rest;
  }

  /** Fails on a value outside the given set, naming the key and the allowed values. */
  public static String oneOf(String source, String key, String value, Set<String> allowed) {
    if (!allowed.contains(value)) {
      throw new IllegalArgumentException(source + ": key '" + key + "' is '" + value + "', expected one of "
          + new java.util.TreeSet<>(allowed));
    }
    return value;
  }

  public static void requirePositive(String source, String key, int value) {
    if (value <= 0) {
      throw new IllegalArgumentException(source + ": key '" + key + "' must be positive, found " + value);
    }
  }

  public static JsonPrimitive number(double d) {
    if (d == Math.rint(d) && Math.abs(d) < 1e15) {
      return new JsonPrimitive((long) d);
    }
    return new JsonPrimitive(d);
  }
}
