package io.sparkformers.training.models.llama;

import com.google.gson.JsonObject;
import io.sparkformers.training.models.BaseModel;
import io.sparkformers.training.models.ModelArchitecture;
import io.sparkformers.training.models.ModelConfig;
import io.sparkformers.training.models.internal.ConfigReader;


/** {@code model_type: llama} → {@link LlamaConfig} (variant {@code LLAMA}) and {@link LlamaForCausalLM}. */
public final class LlamaArchitecture implements ModelArchitecture {

  @Override
  public boolean isCausalLm() {
    return true;
  }

  @Override
  public String modelType() {
    return LlamaConfig.Variant.LLAMA.modelType();
  }

  @Override
  public ModelConfig readConfig(JsonObject json, String source) {
    return LlamaConfig.read(new ConfigReader(json, source), LlamaConfig.Variant.LLAMA);
  }

  @Override
  public BaseModel newModel(ModelConfig config) {
    return new LlamaForCausalLM((LlamaConfig) config);
  }

  @Override
  public String checkpointKey(ModelConfig config, String checkpointName) {
    return LlamaForCausalLM.checkpointKey((LlamaConfig) config, checkpointName);
  }
}
