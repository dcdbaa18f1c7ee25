package io.sparkformers.training.models.bert;

import com.google.gson.JsonObject;
import io.sparkformers.training.models.BaseModel;
import io.sparkformers.training.models.ModelArchitecture;
import io.sparkformers.training.models.ModelConfig;
import io.sparkformers.training.models.internal.ConfigReader;

/** {@code model_type: bert} → {@link BertConfig} and {@link BertForSequenceClassification}. */
public final class BertArchitecture implements ModelArchitecture {

  @Override
  public String modelType() {
    return BertConfig.MODEL_TYPE;
  }

  @Override
  public ModelConfig readConfig(JsonObject json, String source) {
    return BertConfig.read(new ConfigReader(json, source));
  }

  @Override
  public BaseModel newModel(ModelConfig config) {
    return new BertForSequenceClassification((BertConfig) config);
  }

  @Override
  public String checkpointKey(ModelConfig config, String checkpointName) {
    return BertForSequenceClassification.checkpointKey(checkpointName);
  }
}
