package io.sparkformers.training.models.qwen2;

import com.google.gson.JsonObject;
import io.sparkformers.training.models.BaseModel;
import io.sparkformers.training.models.ModelArchitecture;
import io.sparkformers.training.models.ModelConfig;
import io.sparkformers.training.models.internal.ConfigReader;
import io.sparkformers.training.models.llama.LlamaConfig;
import io.sparkformers.training.models.llama.LlamaForCausalLM;

/** {@code model_type: qwen2} → {@link LlamaConfig} (variant {@code QWEN2}) and {@link LlamaForCausalLM}. */
public final class Qwen2Architecture implements ModelArchitecture {

  @Override
  public boolean isCausalLm() {
    return true;
  }

  @Override
  public String modelType() {
    return LlamaConfig.Variant.QWEN2.modelType();
  }

  @Override
  public ModelConfig readConfig(JsonObject json, String source) {
    return LlamaConfig.read(new ConfigReader(json, source), LlamaConfig.Variant.QWEN2);
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
