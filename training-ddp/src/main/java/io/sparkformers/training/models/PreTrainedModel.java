package io.sparkformers.training.models;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Parameter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * A model with Hugging Face's parameter names, loaded from and saved to a Hugging Face model folder
 * ({@code config.json} + {@code model.safetensors}). The contract between the models and the Trainer:
 * the Trainer only ever sees this interface.
 */
public interface PreTrainedModel extends AutoCloseable {

  /** {@code model_type} as written in config.json: {@code gpt2}, {@code bert}, {@code mlp}, ... */
  String modelType();

  /** The manager that owns every parameter of this model. */
  NDManager manager();

  /**
   * Every parameter once, trainable or frozen (tied weights appear under their first name, as torch's
   * {@code named_parameters()} does), under its Hugging Face name, in an order that is the same on every rank
   * and every run. This is what a checkpoint holds.
   */
  Map<String, Parameter> namedParameters();

  /**
   * The parameters that record gradients (not frozen), in {@link #namedParameters()} order: what the optimizer
   * steps and the gradient all-reduce sums. All of them unless an adapter froze the base model.
   */
  default Map<String, Parameter> trainableParameters() {
    Map<String, Parameter> out = new java.util.LinkedHashMap<>();
    namedParameters().forEach((name, p) -> {
      if (p.requiresGradient()) {
        out.put(name, p);
      }
    });
    return java.util.Collections.unmodifiableMap(out);
  }

  /**
   * The dataset columns a training step needs, by Hugging Face name ({@code input_ids} for token models; an
   * mlp needs {@code features} and {@code labels}). Optional inputs ({@code attention_mask}, ...) are not listed.
   */
  default java.util.List<String> inputColumns() {
    return java.util.List.of("input_ids");
  }

  /**
   * One forward pass. Inputs by Hugging Face name ({@code input_ids}, {@code attention_mask},
   * {@code token_type_ids}, {@code position_ids}, {@code labels}; {@code features} for the mlp). With
   * {@code labels} the output carries the loss exactly as transformers computes it.
   *
   * @param training true while training (dropout on, gradients recorded by the caller)
   */
  ModelOutput forward(Map<String, NDArray> inputs, boolean training);

  /**
   * Writes {@code config.json} and {@code model.safetensors} that transformers would load (sharded past
   * transformers' default max_shard_size of 5GB).
   */
  void savePretrained(Path folder) throws IOException;

  /** As {@link #savePretrained(Path)}, with the weights stored as FLOAT32 or FLOAT16. */
  void savePretrained(Path folder, DataType floatType) throws IOException;

  /**
   * As {@link #savePretrained(Path)}, with the float type and transformers' max_shard_size from {@code options}:
   * weights beyond one shard are written as model-0000i-of-0000N.safetensors + model.safetensors.index.json.
   */
  void savePretrained(Path folder, SaveOptions options) throws IOException;

  /** The config this model was built from. */
  ModelConfig config();

  /** What loading the checkpoint found (missing, unexpected, mismatched keys); clean when built from config. */
  LoadReport loadReport();

  @Override
  void close();
}
