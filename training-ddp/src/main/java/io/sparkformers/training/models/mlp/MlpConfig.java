package io.sparkformers.training.models.mlp;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import io.sparkformers.training.models.ModelConfig;
import io.sparkformers.training.models.internal.ConfigReader;
import java.util.List;
import java.util.Set;

/**
 * {@code model_type: mlp} (our own): a classifier over feature vectors, laid out as torch's
 * {@code nn.Sequential(Linear, act, Linear, act, ..., Linear)}, so its parameters are named {@code 0.weight},
 * {@code 0.bias}, {@code 2.weight}, ... with weights {@code [out, in]}. Keys: {@code input_size},
 * {@code hidden_sizes}, {@code num_labels}, {@code hidden_act} (relu, gelu, tanh, sigmoid),
 * {@code problem_type}.
 */
public final class MlpConfig implements ModelConfig {
  public static final String MODEL_TYPE = "mlp";
  static final Set<String> ACTIVATIONS = Set.of("relu", "gelu", "tanh", "sigmoid");

  private final int inputSize;
  private final List<Integer> hiddenSizes;
  private final int numLabels;
  private final String hiddenAct;
  private final String problemType;
  private final JsonObject extra;

  private MlpConfig(Builder b) {
    String src = "mlp config";
    ConfigReader.requirePositive(src, "input_size", b.inputSize);
    ConfigReader.requirePositive(src, "num_labels", b.numLabels);
    for (int h : b.hiddenSizes) {
      ConfigReader.requirePositive(src, "hidden_sizes", h);
    }
    ConfigReader.oneOf(src, "hidden_act", b.hiddenAct, ACTIVATIONS);
    if (b.problemType != null) {
      ConfigReader.oneOf(src, "problem_type", b.problemType, io.sparkformers.training.models.internal.ProblemTypes.ALL);
    }
    this.inputSize = b.inputSize;
    this.hiddenSizes = List.copyOf(b.hiddenSizes);
    this.numLabels = b.numLabels;
    this.hiddenAct = b.hiddenAct;
    this.problemType = b.problemType;
    this.extra = b.extra.deepCopy();
  }

  static MlpConfig read(ConfigReader r) {
    Builder b = builder()
        .inputSize(r.requireInt("input_size"))
        .hiddenSizes(r.optIntList(List.of(), "hidden_sizes"))
        .numLabels(r.requireInt("num_labels"))
        .hiddenAct(r.optString("relu", "hidden_act"))
        .problemType(r.optString(null, "problem_type"));
    b.extra = r.unreadKeys();
    b.extra.remove("architectures");
    b.extra.remove("model_type");
    try {
      return b.build();
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(e.getMessage().replace("mlp config", r.source()), e);
    }
  }

  public static Builder builder() {
    return new Builder();
  }

  @Override
  public String modelType() {
    return MODEL_TYPE;
  }

  public int inputSize() {
    return inputSize;
  }

  public List<Integer> hiddenSizes() {
    return hiddenSizes;
  }

  public int numLabels() {
    return numLabels;
  }

  public String hiddenAct() {
    return hiddenAct;
  }

  /** {@code single_label_classification}, {@code multi_label_classification}, {@code regression} or null. */
  public String problemType() {
    return problemType;
  }

  @Override
  public JsonObject toJson() {
    JsonObject o = extra.deepCopy();
    o.addProperty("model_type", MODEL_TYPE);
    JsonArray arch = new JsonArray();
    arch.add("MlpForClassification");
    o.add("architectures", arch);
    o.addProperty("input_size", inputSize);
    JsonArray hs = new JsonArray();
    hiddenSizes.forEach(hs::add);
    o.add("hidden_sizes", hs);
    o.addProperty("num_labels", numLabels);
    o.addProperty("hidden_act", hiddenAct);
    if (problemType != null) {
      o.addProperty("problem_type", problemType);
    }
    return o;
  }

  private Object writeReplace() {
    return new Serialized(this); // the kept JSON is not serializable: travel as config.json text
  }

  @Override
  public String toString() {
    return toJson().toString();
  }

  /** Builds an {@link MlpConfig}; {@code input_size} and {@code num_labels} are required. */
  public static final class Builder {
    private int inputSize;
    private List<Integer> hiddenSizes = List.of();
    private int numLabels;
    private String hiddenAct = "relu";
    private String problemType;
    private JsonObject extra = new JsonObject();

    public Builder inputSize(int v) {
      inputSize = v;
      return this;
    }

    public Builder hiddenSizes(List<Integer> v) {
      hiddenSizes = v;
      return this;
    }

    public Builder numLabels(int v) {
      numLabels = v;
      return this;
    }

    public Builder hiddenAct(String v) {
      hiddenAct = v;
      return this;
    }

    public Builder problemType(String v) {
      problemType = v;
      return this;
    }

    public MlpConfig build() {
      return new MlpConfig(this);
    }
  }
}
