package io.sparkformers.training.models;

import com.google.gson.JsonObject;

/**
 * One architecture, found by {@link AutoConfig} and {@link AutoModel} through its {@code model_type}. An
 * implementation is registered as a Java service: its class name on a line of
 * {@code META-INF/services/io.sparkformers.training.models.ModelArchitecture} in its jar (or in test resources),
 * so adding an architecture changes no code here. Implementations have a public no-argument constructor and
 * are stateless.
 */
public interface ModelArchitecture {

  /** {@code model_type} as written in config.json, e.g. {@code gpt2}. */
  String modelType();

  /**
   * The config for a parsed config.json whose {@code model_type} is this architecture's; {@code source} names
   * the file in error messages. Invalid or missing values are {@link IllegalArgumentException}s naming the key.
   */
  ModelConfig readConfig(JsonObject json, String source);

  /**
   * A model for {@code config} with its modules and parameters declared but no tensor created yet: the caller
   * creates them (from a checkpoint or freshly initialised) and then owns the model.
   */
  BaseModel newModel(ModelConfig config);

  /**
   * Whether its models are causal language models ({@link CausalLM}, configs {@link CausalLmConfig}): what
   * the causal-LM training task, generation and scoring take.
   */
  default boolean isCausalLm() {
    return false;
  }

  /**
   * A checkpoint's tensor name as the model names it, or null for a tensor the model ignores as transformers
   * does (e.g. buffers, a tied head). By default names are taken as they are.
   */
  default String checkpointKey(ModelConfig config, String checkpointName) {
    return checkpointName;
  }
}
