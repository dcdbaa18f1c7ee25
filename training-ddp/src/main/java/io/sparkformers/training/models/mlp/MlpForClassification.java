package io.sparkformers.training.models.mlp;

import ai.djl.ndarray.NDArray;
import io.sparkformers.training.models.BaseModel;
import io.sparkformers.training.models.ModelOutput;
import io.sparkformers.training.models.internal.Ops;
import io.sparkformers.training.models.nn.Init;
import io.sparkformers.training.models.nn.Linear;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code model_type: mlp}: Linear → act → ... → Linear over a {@code features} tensor [batch, input_size], laid
 * out as torch's {@code nn.Sequential} (parameters {@code 0.weight [out, in]}, {@code 0.bias}, {@code 2.weight},
 * ...; the activations take the odd indices). Initialised as torch.nn.Linear is: U(±1/√fan_in) for weights and
 * biases. Loss as transformers' sequence classification: cross-entropy mean for integer labels.
 */
public final class MlpForClassification extends BaseModel {
  private final MlpConfig config;
  private final List<Linear> layers = new ArrayList<>();

  /** Declares the layers; {@link MlpArchitecture} has the parameters created. */
  MlpForClassification(MlpConfig config) {
    this.config = config;
    int in = config.inputSize();
    List<Integer> outs = new ArrayList<>(config.hiddenSizes());
    outs.add(config.numLabels());
    for (int i = 0; i < outs.size(); i++) {
      int out = outs.get(i);
      Init init = Init.uniform(1.0 / Math.sqrt(in));
      layers.add(addModule(String.valueOf(2 * i), new Linear(in, out, init, init)));
      in = out;
    }
  }

  /** An mlp reads a {@code features} tensor and trains against {@code labels}. */
  @Override
  public List<String> inputColumns() {
    return List.of("features", "labels");
  }

  @Override
  public String modelType() {
    return MlpConfig.MODEL_TYPE;
  }

  @Override
  public MlpConfig config() {
    return config;
  }

  /** Inputs: {@code features} [batch, input_size] float32; optional {@code labels} [batch]. */
  @Override
  public ModelOutput forward(Map<String, NDArray> inputs, boolean training) {
    NDArray x = inputs.get("features");
    if (x == null) {
      throw new IllegalArgumentException("mlp forward needs 'features' [batch, " + config.inputSize()
          + "]; got inputs " + inputs.keySet());
    }
    if (x.getShape().dimension() != 2 || x.getShape().get(1) != config.inputSize()) {
      throw new IllegalArgumentException("mlp 'features' must be [batch, " + config.inputSize() + "], got "
          + x.getShape());
    }
    NDArray h = x;
    for (int i = 0; i < layers.size(); i++) {
      NDArray next = layers.get(i).forward(h);
      if (i < layers.size() - 1) {
        NDArray activated = Ops.activation(config.hiddenAct(), next);
        next.close();
        next = activated;
      }
      if (h != x) {
        h.close();
      }
      h = next;
    }
    NDArray labels = inputs.get("labels");
    NDArray loss = labels == null ? null
        : Ops.classificationLoss(h, labels, config.numLabels(), config.problemType());
    return new ModelOutput(h, loss);
  }
}
