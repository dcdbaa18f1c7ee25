package io.sparkformers.training.models.toy;

import ai.djl.ndarray.NDArray;
import io.sparkformers.training.models.BaseModel;
import io.sparkformers.training.models.ModelOutput;
import io.sparkformers.training.models.nn.Init;
import io.sparkformers.training.models.nn.Linear;
import io.sparkformers.training.models.nn.Module;
import io.sparkformers.training.models.nn.RMSNorm;
import java.util.List;
import java.util.Map;

/** proj (Linear) → block.norm (RMSNorm): a module tree of two levels, built only from the public API. */
final class ToyModel extends BaseModel {
  private final ToyConfig config;
  private final Linear proj;
  private final Block block;

  static final class Block extends Module {
    final RMSNorm norm;

    Block(int size) {
      norm = addModule("norm", new RMSNorm(size, 1e-6));
    }
  }

  ToyModel(ToyConfig config) {
    this.config = config;
    this.proj = addModule("proj", new Linear(config.inputSize(), config.hiddenSize(), Init.normal(0.5),
        Init.zeros()));
    this.block = addModule("block", new Block(config.hiddenSize()));
  }

  @Override
  public String modelType() {
    return ToyConfig.MODEL_TYPE;
  }

  @Override
  public ToyConfig config() {
    return config;
  }

  @Override
  public List<String> inputColumns() {
    return List.of("features");
  }

  @Override
  public ModelOutput forward(Map<String, NDArray> inputs, boolean training) {
    return new ModelOutput(block.norm.forward(proj.forward(inputs.get("features"))), null);
  }
}
