package io.sparkformers.training.models;

import com.google.gson.JsonObject;
import io.sparkformers.training.models.internal.ConfigReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

/** Reads a Hugging Face {@code config.json} into the config class its {@code model_type} names. */
public final class AutoConfig {
  /** The model types this library builds. */
  public static final Set<String> MODEL_TYPES = Set.of(Gpt2Config.MODEL_TYPE, BertConfig.MODEL_TYPE,
      MlpConfig.MODEL_TYPE);

  private AutoConfig() {}

  /** {@code path} is a model folder holding {@code config.json}, or the config file itself. */
  public static ModelConfig fromPretrained(Path path) throws IOException {
    Path file = Files.isDirectory(path) ? path.resolve("config.json") : path;
    return fromJson(ConfigReader.parseObject(file), file.toString());
  }

  /** Parses config JSON text; {@code source} names it in error messages. */
  public static ModelConfig fromJson(String text, String source) {
    return fromJson(ConfigReader.parseObject(text, source), source);
  }

  static ModelConfig fromJson(JsonObject json, String source) {
    ConfigReader r = new ConfigReader(json, source);
    String type = r.optString(null, "model_type");
    if (type == null) {
      throw new IllegalArgumentException(source + ": missing required key 'model_type', expected one of "
          + new java.util.TreeSet<>(MODEL_TYPES));
    }
    return switch (type) {
      case Gpt2Config.MODEL_TYPE -> Gpt2Config.read(r);
      case BertConfig.MODEL_TYPE -> BertConfig.read(r);
      case MlpConfig.MODEL_TYPE -> MlpConfig.read(r);
      default -> throw new IllegalArgumentException(source + ": unknown model_type '" + type
          + "', expected one of " + new java.util.TreeSet<>(MODEL_TYPES));
    };
  }
}
