package io.sparkformers.training.models;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A model's {@code config.json}, typed by {@code model_type} (each {@link ModelArchitecture} has its config
 * class). Keys a config class does not interpret are kept and written back unchanged, so a folder moves between
 * transformers and sparkformers without losing them.
 *
 * <p>Configs are {@link Serializable}, so they cross into Spark task functions: the built-in ones travel as
 * their config.json text ({@link Serialized}) and are read back through {@link AutoConfig}, since the JSON
 * they keep is not serializable.
 */
public interface ModelConfig extends Serializable {

  /** {@code model_type}, e.g. {@code gpt2}, {@code bert} or {@code mlp}. */
  String modelType();

  /** The config.json object (a fresh copy), with {@code model_type} and {@code architectures}. */
  JsonObject toJson();

  /** Writes {@code folder/config.json}, pretty-printed with keys sorted as transformers writes them. */
  default void save(Path folder) throws IOException {
    save(folder, null);
  }

  /** As {@link #save(Path)}, recording {@code torch_dtype} (e.g. float16) as transformers does on save. */
  default void save(Path folder, String torchDtype) throws IOException {
    Files.createDirectories(folder);
    JsonObject sorted = new JsonObject();
    JsonObject json = toJson();
    if (torchDtype != null) {
      json.addProperty("torch_dtype", torchDtype);
    }
    json.keySet().stream().sorted().forEach(k -> sorted.add(k, json.get(k)));
    String text = new GsonBuilder().setPrettyPrinting().serializeNulls().disableHtmlEscaping().create()
        .toJson(sorted);
    Files.writeString(folder.resolve("config.json"), text + "\n", StandardCharsets.UTF_8);
  }

  /**
   * The serialized form of a config: its config.json text, read back through {@link AutoConfig} on
   * deserialization. A config class returns {@code new ModelConfig.Serialized(this)} from a private
   * {@code writeReplace()}.
   */
  final class Serialized implements Serializable {
    private static final long serialVersionUID = 1L;
    private final String json;

    public Serialized(ModelConfig config) {
      this.json = config.toJson().toString();
    }

    private Object readResolve() {
      return AutoConfig.fromJson(json, "a deserialized model config");
    }
  }
}
