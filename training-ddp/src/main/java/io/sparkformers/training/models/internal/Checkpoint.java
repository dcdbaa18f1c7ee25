package io.sparkformers.training.models.internal;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import io.sparkformers.training.models.SafeTensorsFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The weights of a model folder: {@code model.safetensors}, or the shards listed by
 * {@code model.safetensors.index.json} ({@code weight_map}: tensor name → shard file).
 */
public final class Checkpoint implements AutoCloseable {
  public static final String WEIGHTS = "model.safetensors";
  public static final String INDEX = "model.safetensors.index.json";

  private final String source;
  private final List<SafeTensorsFile> files;
  private final Map<String, SafeTensorsFile> byName;

  private Checkpoint(String source, List<SafeTensorsFile> files, Map<String, SafeTensorsFile> byName) {
    this.source = source;
    this.files = files;
    this.byName = byName;
  }

  public static Checkpoint open(Path folder) throws IOException {
    Path single = folder.resolve(WEIGHTS);
    Path index = folder.resolve(INDEX);
    List<SafeTensorsFile> opened = new ArrayList<>();
    Map<String, SafeTensorsFile> byName = new LinkedHashMap<>();
    try {
      if (Files.exists(single)) {
        SafeTensorsFile f = SafeTensorsFile.open(single);
        opened.add(f);
        for (String n : f.names()) {
          byName.put(n, f);
        }
        return new Checkpoint(single.toString(), opened, byName);
      }
      if (!Files.exists(index)) {
        String hint = Files.exists(folder.resolve("pytorch_model.bin"))
            ? " (pytorch_model.bin is a pickle, which is not read: convert it to safetensors)" : "";
        throw new NoSuchFileException(folder.toString(), null,
            "no " + WEIGHTS + " or " + INDEX + " in the model folder" + hint);
      }
      JsonObject json = ConfigReader.parseObject(index);
      JsonElement map = json.get("weight_map");
      if (map == null || !map.isJsonObject()) {
        throw new IOException(index + ": missing 'weight_map' (an object of tensor name → shard file)");
      }
      Map<String, SafeTensorsFile> shards = new LinkedHashMap<>();
      for (Map.Entry<String, JsonElement> e : map.getAsJsonObject().entrySet()) {
        if (!e.getValue().isJsonPrimitive()) {
          throw new IOException(index + ": weight_map." + e.getKey() + " must be a file name");
        }
        String shardName = e.getValue().getAsString();
        Path shard = folder.resolve(shardName).normalize();
        if (!shard.startsWith(folder.normalize())) {
          throw new IOException(index + ": weight_map." + e.getKey() + " points outside the folder: " + shardName);
        }
        SafeTensorsFile f = shards.get(shardName);
        if (f == null) {
          f = SafeTensorsFile.open(shard);
          shards.put(shardName, f);
          opened.add(f);
        }
        if (!f.tensors().containsKey(e.getKey())) {
          throw new IOException(index + ": weight_map says '" + e.getKey() + "' is in " + shardName
              + ", which has no such tensor");
        }
        byName.put(e.getKey(), f);
      }
      return new Checkpoint(index.toString(), opened, byName);
    } catch (IOException | RuntimeException e) {
      for (SafeTensorsFile f : opened) {
        f.close();
      }
      throw e;
    }
  }

  public String source() {
    return source;
  }

  public List<String> names() {
    return List.copyOf(byName.keySet());
  }

  public SafeTensorsFile.TensorInfo info(String name) {
    return byName.get(name).info(name);
  }

  public float[] readFloats(String name) throws IOException {
    return byName.get(name).readFloats(name);
  }

  /** One floating tensor as float32 on {@code manager}, through mapped buffers ({@link SafeTensorsFile#loadFloat32}). */
  public ai.djl.ndarray.NDArray loadFloat32(String name, ai.djl.ndarray.NDManager manager) throws IOException {
    return byName.get(name).loadFloat32(name, manager);
  }

  @Override
  public void close() throws IOException {
    for (SafeTensorsFile f : files) {
      f.close();
    }
  }
}
