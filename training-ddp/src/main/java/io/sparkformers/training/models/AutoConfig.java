package io.sparkformers.training.models;

import com.google.gson.JsonObject;
import io.sparkformers.training.models.internal.Architectures;
import io.sparkformers.training.models.internal.ConfigReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

/**
 * Reads a Hugging Face {@code config.json} into the config class its {@code model_type} names, through the
 * registered {@link ModelArchitecture}s.
 */
public final class AutoConfig {
  private AutoConfig() {}

  /** The model types this library builds: those of the registered architectures, sorted. */
  public static Set<String> modelTypes() {
    return Architectures.all().keySet();
  }

  /** Whether {@code modelType} is a registered causal language model (false for unknown types). */
  public static boolean isCausalLm(String modelType) {
    ModelArchitecture a = Architectures.all().get(modelType);
    return a != null && a.isCausalLm();
  }

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
    String type = new ConfigReader(json, source).optString(null, "model_type");
    if (type == null) {
      throw new IllegalArgumentException(source + ": missing required key 'model_type', expected one of "
          + modelTypes());
    }
    return Architectures.named(type, source).readConfig(json, source);
  }
}
