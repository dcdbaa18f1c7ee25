package io.sparkformers.training.optim;

import ai.djl.ndarray.NDArray;

/**
 * One trainable tensor with its name and whether weight decay applies to it (transformers exempts biases and
 * normalisation weights).
 */
public record Param(String name, NDArray array, boolean decay) {

  /** transformers' rule: no weight decay for biases and LayerNorm/RMSNorm weights, judged here by name. */
  public static boolean decayByName(String name) {
    String n = name.toLowerCase(java.util.Locale.ROOT);
    if (n.endsWith("bias")) {
      return false;
    }
    String[] parts = n.split("\\.");
    for (String part : parts) {
      if (part.startsWith("ln") || part.contains("layernorm") || part.contains("layer_norm")
          || part.contains("rmsnorm") || part.equals("norm") || part.startsWith("norm")) {
        return false;
      }
    }
    return true;
  }
}
