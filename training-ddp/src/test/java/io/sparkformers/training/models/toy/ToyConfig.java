package io.sparkformers.training.models.toy;

import com.google.gson.JsonObject;
import io.sparkformers.training.models.ModelConfig;

/** {@code model_type: toy}: a config an architecture outside the library brings (plain fields: serializable). */
public final class ToyConfig implements ModelConfig {
  private static final long serialVersionUID = 1L;
  static final String MODEL_TYPE = "toy";

  private final int inputSize;
  private final int hiddenSize;

  ToyConfig(int inputSize, int hiddenSize) {
    this.inputSize = inputSize;
    this.hiddenSize = hiddenSize;
  }

  int inputSize() {
    return inputSize;
  }

  int hiddenSize() {
    return hiddenSize;
  }

  @Override
  public String modelType() {
    return MODEL_TYPE;
  }

  @Override
  public JsonObject toJson() {
    JsonObject o = new JsonObject();
    o.addProperty("model_type", MODEL_TYPE);
    o.addProperty("input_size", inputSize);
    o.addProperty("hidden_size", hiddenSize);
    return o;
  }
}
