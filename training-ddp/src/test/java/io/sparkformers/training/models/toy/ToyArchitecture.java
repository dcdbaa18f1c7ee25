package io.sparkformers.training.models.toy;

import com.google.gson.JsonObject;
import io.sparkformers.training.models.BaseModel;
import io.sparkformers.training.models.ModelArchitecture;
import io.sparkformers.training.models.ModelConfig;

/**
 * Registered from test code only (src/test/resources/META-INF/services): the registry finds it beside the
 * built-in architectures. Checkpoints name the projection {@code linear}, which the model calls {@code proj}.
 */
public final class ToyArchitecture implements ModelArchitecture {

  @Override
  public String modelType() {
    return ToyConfig.MODEL_TYPE;
  }

  @Override
  public ModelConfig readConfig(JsonObject json, String source) {
    if (!json.has("input_size") || !json.has("hidden_size")) {
      throw new IllegalArgumentException(source + ": a toy config needs input_size and hidden_size");
    }
    return new ToyConfig(json.get("input_size").getAsInt(), json.get("hidden_size").getAsInt());
  }

  @Override
  public BaseModel newModel(ModelConfig config) {
    return new ToyModel((ToyConfig) config);
  }

  @Override
  public String checkpointKey(ModelConfig config, String checkpointName) {
    return checkpointName.startsWith("linear.") ? "proj." + checkpointName.substring(7) : checkpointName;
  }
}
