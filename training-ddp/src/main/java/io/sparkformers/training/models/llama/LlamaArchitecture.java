package io.sparkformers.training.models.llama;

import com.google.gson.JsonObject;
import io.sparkformers.training.models.BaseModel;
import io.sparkformers.training.models.ModelArchitecture;
import io.sparkformers.training.models.ModelConfig;
import io.sparkformers.training.models.internal.ConfigReader;

/**
 * {@code model_type: llama} → {@link LlamaConfig} (variant {@code LLAMA}) and {@link LlamaForCausalLM}. The
 * other decoders of the family (qwen2, mistral) register a subclass naming their {@link LlamaConfig.Variant}.
 */
public class LlamaArchitecture implements ModelArchitecture {
  private final LlamaConfig.Variant variant;

  public LlamaArchitecture() {
    this(LlamaConfig.Variant.LLAMA);
  }

  protected LlamaArchitecture(LlamaConfig.Variant variant) {
    this.variant = variant;
  }

  @Override
  public final boolean isCausalLm() {
    return true;
  }

  @Override
  public final String modelType() {
    return variant.modelType();
  }

  @Override
  public final ModelConfig readConfig(JsonObject json, String source) {
    return LlamaConfig.read(new ConfigReader(json, source), variant);
  }

  @Override
  public final BaseModel newModel(ModelConfig config) {
    return new LlamaForCausalLM((LlamaConfig) config);
  }

  @Override
  public final String checkpointKey(ModelConfig config, String checkpointName) {
    return LlamaForCausalLM.checkpointKey((LlamaConfig) config, checkpointName);
  }
}
