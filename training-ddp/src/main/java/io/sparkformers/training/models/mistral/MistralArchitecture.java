package io.sparkformers.training.models.mistral;

import com.google.gson.JsonObject;
import io.sparkformers.training.models.BaseModel;
import io.sparkformers.training.models.ModelArchitecture;
import io.sparkformers.training.models.ModelConfig;
import io.sparkformers.training.models.internal.ConfigReader;
import io.sparkformers.training.models.llama.LlamaConfig;
import io.sparkformers.training.models.llama.LlamaForCausalLM;

/** {@code model_type: mistral} → {@link LlamaConfig} (variant {@code MISTRAL}) and {@link LlamaForCausalLM}. */
public final class MistralArchitecture implements ModelArchitecture {

  @Override
  public boolean isCausalLm() {
    return true;
  }

  @Override
  public String modelType() {
    return LlamaConfig.Variant.MISTRAL.modelType();
  }

  @Override
  public ModelConfig readConfig(JsonObject json, String source) {
    return LlamaConfig.read(new ConfigReader(json, source), LlamaConfig.Variant.MISTRAL);
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
