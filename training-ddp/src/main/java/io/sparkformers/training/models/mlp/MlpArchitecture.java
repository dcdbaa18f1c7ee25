package io.sparkformers.training.models.mlp;

import com.google.gson.JsonObject;
import io.sparkformers.training.models.BaseModel;
import io.sparkformers.training.models.ModelArchitecture;
import io.sparkformers.training.models.ModelConfig;
import io.sparkformers.training.models.internal.ConfigReader;

/** {@code model_type: mlp} → {@link MlpConfig} and {@link MlpForClassification}. */
public final class MlpArchitecture implements ModelArchitecture {

  @Override
  public String modelType() {
    return MlpConfig.MODEL_TYPE;
  }

  @Override
  public ModelConfig readConfig(JsonObject json, String source) {
    return MlpConfig.read(new ConfigReader(json, source));
  }

  @Override
  public BaseModel newModel(ModelConfig config) {
    return new MlpForClassification((MlpConfig) config);
  }
}
