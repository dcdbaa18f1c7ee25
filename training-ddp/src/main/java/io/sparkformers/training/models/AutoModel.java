package io.sparkformers.training.models;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.sparkformers.training.models.internal.Checkpoint;
import io.sparkformers.training.models.internal.ParamSpec;
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
 * {@code model.safetensors.index.json}) or from a config, choosing the architecture by {@code model_type}:
 * {@code gpt2} → {@link Gpt2LMHeadModel}, {@code bert} → {@link BertForSequenceClassification}, {@code mlp} →
 * {@link MlpForClassification}.
 */
public final class AutoModel {
  private AutoModel() {}

  /** A freshly initialised model (draws from the engine's random generator: seed it for reproducibility). */
  public static PreTrainedModel fromConfig(ModelConfig config) {
    return fromConfig(config, Device.cpu());
  }

  public static PreTrainedModel fromConfig(ModelConfig config, Device device) {
    NDManager manager = NDManager.newBaseManager(device, "PyTorch");
    try {
      return create(config, manager, Map.of());
    } catch (RuntimeException e) {
      manager.close();
      throw e;
    }
  }

  /** Loads a model folder; any missing, unexpected or mis-shaped tensor is an error naming it. */
  public static PreTrainedModel fromPretrained(Path folder) throws IOException {
    return fromPretrained(folder, LoadOptions.defaults());
  }

  public static PreTrainedModel fromPretrained(Path folder, LoadOptions options) throws IOException {
    ModelConfig config = AutoConfig.fromPretrained(folder);
    List<ParamSpec> specs = specs(config);
    Map<String, ParamSpec> byName = new LinkedHashMap<>();
    specs.forEach(s -> byName.put(s.name(), s));
    try (Checkpoint checkpoint = Checkpoint.open(folder)) {
      Map<String, String> sourceOf = new LinkedHashMap<>();
      List<String> unexpected = new ArrayList<>();
      List<String> mismatched = new ArrayList<>();
      for (String raw : checkpoint.names()) {
        String key = checkpointKey(config, raw);
        if (key == null) {
          continue;
        }
        ParamSpec spec = byName.get(key);
        if (spec == null) {
          unexpected.add(raw);
          continue;
        }
        long[] shape = checkpoint.info(raw).shape();
        if (!Arrays.equals(shape, spec.shape().getShape())) {
          mismatched.add(raw + ": checkpoint " + Arrays.toString(shape) + ", model "
              + Arrays.toString(spec.shape().getShape()));
          continue;
        }
        if (sourceOf.put(key, raw) != null) {
          unexpected.add(raw);
        }
      }
      List<String> missing = new ArrayList<>();
      for (ParamSpec s : specs) {
        if (!sourceOf.containsKey(s.name()) && mismatched.stream().noneMatch(m -> mapsTo(config, m, s.name()))) {
          missing.add(s.name());
        }
      }
      LoadReport report = new LoadReport(checkpoint.source(), missing, unexpected, mismatched);
      boolean fail = (!missing.isEmpty() && !options.allowMissingKeys())
          || (!unexpected.isEmpty() && !options.allowUnexpectedKeys())
          || (!mismatched.isEmpty() && !options.ignoreMismatchedSizes());
      if (fail) {
        throw new IllegalArgumentException("the checkpoint does not fit the " + config.modelType()
            + " model built from " + folder.resolve("config.json") + ": " + report
            + "\n  (LoadOptions allowMissingKeys / allowUnexpectedKeys / ignoreMismatchedSizes accept these)");
      }
      NDManager manager = NDManager.newBaseManager(options.device(), "PyTorch");
      try {
        Map<String, NDArray> values = new HashMap<>();
        for (Map.Entry<String, String> e : sourceOf.entrySet()) {
          float[] data = checkpoint.readFloats(e.getValue());
          Shape shape = byName.get(e.getKey()).shape();
          try (NDArray view = manager.create(data, shape)) {
            // libtorch-owned memory, not a view of a Java buffer (STACK.md: never alias parameters).
            values.put(e.getKey(), view.duplicate());
          }
        }
        BaseModel model = create(config, manager, values);
        model.setLoadReport(report);
        return model;
      } catch (IOException | RuntimeException e) {
        manager.close();
        throw e;
      }
    }
  }

  private static boolean mapsTo(ModelConfig config, String mismatchEntry, String name) {
    String raw = mismatchEntry.substring(0, mismatchEntry.indexOf(": checkpoint "));
    return name.equals(checkpointKey(config, raw));
  }

  static List<ParamSpec> specs(ModelConfig config) {
    if (config instanceof Gpt2Config c) {
      return Gpt2LMHeadModel.specs(c);
    } else if (config instanceof BertConfig c) {
      return BertForSequenceClassification.specs(c);
    }
    return MlpForClassification.specs((MlpConfig) config);
  }

  /** A checkpoint tensor name as the model names it, or null for tensors transformers ignores too. */
  static String checkpointKey(ModelConfig config, String raw) {
    if (config instanceof Gpt2Config c) {
      return Gpt2LMHeadModel.checkpointKey(c, raw);
    } else if (config instanceof BertConfig) {
      return BertForSequenceClassification.checkpointKey(raw);
    }
    return raw;
  }

  private static BaseModel create(ModelConfig config, NDManager manager, Map<String, NDArray> values) {
    if (config instanceof Gpt2Config c) {
      return new Gpt2LMHeadModel(c, manager, values);
    } else if (config instanceof BertConfig c) {
      return new BertForSequenceClassification(c, manager, values);
    }
    return new MlpForClassification((MlpConfig) config, manager, values);
  }
}
