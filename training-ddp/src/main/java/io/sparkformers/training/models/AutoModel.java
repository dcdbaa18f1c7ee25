package io.sparkformers.training.models;

import ai.djl.Device;
import io.sparkformers.accelerate.GompSpinCount;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.sparkformers.training.models.internal.Architectures;
import io.sparkformers.training.models.internal.Checkpoint;
import io.sparkformers.training.models.nn.Param;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds a model from a Hugging Face model folder ({@code config.json} + {@code model.safetensors}, or a sharded
 * {@code model.safetensors.index.json}) or from a config, choosing the architecture registered for its
 * {@code model_type} ({@link ModelArchitecture}): {@code gpt2}, {@code llama}, {@code qwen2}, {@code mistral},
 * {@code bert} and {@code mlp} are built in.
 */
public final class AutoModel {
  private AutoModel() {}

  /** A freshly initialised model (draws from the engine's random generator: seed it for reproducibility). */
  public static PreTrainedModel fromConfig(ModelConfig config) {
    return fromConfig(config, Device.cpu());
  }

  public static PreTrainedModel fromConfig(ModelConfig config, Device device) {
    BaseModel model = architecture(config).newModel(config);
    // Before libtorch (and its libgomp) may load: OpenMP threads that sleep after each operator cost 5x.
    GompSpinCount.setIfMissing();
    NDManager manager = NDManager.newBaseManager(device, "PyTorch");
    try {
      model.create(manager, Map.of());
      return model;
    } catch (RuntimeException e) {
      manager.close();
      throw e;
    }
  }

  /** Loads a model folder; any missing, unexpected or mis-shaped tensor is an error naming it. */
  public static PreTrainedModel fromPretrained(Path folder) throws IOException {
    return fromPretrained(folder, FromPretrainedOptions.defaults());
  }

  /**
   * As {@link #fromPretrained(Path)}. Floating tensors stored as F32, F16, BF16 or F64 become the model's
   * float32 parameters inside libtorch, read through memory-mapped buffers, not through the Java heap.
   */
  public static PreTrainedModel fromPretrained(Path folder, FromPretrainedOptions options) throws IOException {
    GompSpinCount.setIfMissing();
    ModelConfig config = AutoConfig.fromPretrained(folder);
    ModelArchitecture architecture = architecture(config);
    BaseModel model = architecture.newModel(config);
    Map<String, Param> declared = model.declaredParameters();
    try (Checkpoint checkpoint = Checkpoint.open(folder)) {
      Map<String, String> sourceOf = new LinkedHashMap<>();
      List<String> unexpected = new ArrayList<>();
      List<String> mismatched = new ArrayList<>();
      List<String> mismatchedKeys = new ArrayList<>();
      for (String raw : checkpoint.names()) {
        String key = architecture.checkpointKey(config, raw);
        if (key == null) {
          continue;
        }
        Param param = declared.get(key);
        if (param == null) {
          unexpected.add(raw);
          continue;
        }
        long[] shape = checkpoint.info(raw).shape();
        if (!Arrays.equals(shape, param.shape().getShape())) {
          mismatched.add(raw + ": checkpoint " + Arrays.toString(shape) + ", model "
              + Arrays.toString(param.shape().getShape()));
          mismatchedKeys.add(key);
          continue;
        }
        if (sourceOf.put(key, raw) != null) {
          unexpected.add(raw);
        }
      }
      List<String> missing = new ArrayList<>();
      for (String name : declared.keySet()) {
        if (!sourceOf.containsKey(name) && !mismatchedKeys.contains(name)) {
          missing.add(name);
        }
      }
      LoadReport report = new LoadReport(checkpoint.source(), missing, unexpected, mismatched);
      boolean fail = (!missing.isEmpty() && !options.allowMissingKeys())
          || (!unexpected.isEmpty() && !options.allowUnexpectedKeys())
          || (!mismatched.isEmpty() && !options.ignoreMismatchedSizes());
      if (fail) {
        throw new IllegalArgumentException("the checkpoint does not fit the " + config.modelType()
            + " model built from " + folder.resolve("config.json") + ": " + report
            + "\n  (FromPretrainedOptions allowMissingKeys / allowUnexpectedKeys / ignoreMismatchedSizes accept"
            + " these)");
      }
      NDManager manager = NDManager.newBaseManager(options.device(), "PyTorch");
      try {
        Map<String, NDArray> values = new HashMap<>();
        for (Map.Entry<String, String> e : sourceOf.entrySet()) {
          values.put(e.getKey(), checkpoint.loadFloat32(e.getValue(), manager));
        }
        model.create(manager, values);
        model.setLoadReport(report);
        return model;
      } catch (IOException | RuntimeException e) {
        manager.close();
        throw e;
      }
    }
  }

  /** The registered architecture of {@code config}'s model_type. */
  static ModelArchitecture architecture(ModelConfig config) {
    return Architectures.named(config.modelType(), "model config");
  }
}
