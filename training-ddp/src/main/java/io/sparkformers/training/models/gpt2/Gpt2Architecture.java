package io.sparkformers.training.models.gpt2;

import com.google.gson.JsonObject;
import io.sparkformers.training.models.BaseModel;
import io.sparkformers.training.models.ModelArchitecture;
import io.sparkformers.training.models.ModelConfig;
import io.sparkformers.training.models.internal.ConfigReader;

/** {@code model_type: gpt2} → {@link Gpt2Config} and {@link Gpt2LMHeadModel}. */
public final class Gpt2Architecture implements ModelArchitecture {

  @Override
  public boolean isCausalLm() {
    return true;
  }

  @Override
  public String modelType() {
    return Gpt2Config.MODEL_TYPE;
  }

  @Override
  public ModelConfig readConfig(JsonObject json, String source) {
    return Gpt2Config.read(new ConfigReader(json, source));
  }

  @Override
  public BaseModel newModel(ModelConfig config) {
    return new Gpt2LMHeadModel((Gpt2Config) config);
  }

  @Override
  public String checkpointKey(ModelConfig config, String checkpointName) {
    return Gpt2LMHeadModel.checkpointKey((Gpt2Config) config, checkpointName);
  }
}
