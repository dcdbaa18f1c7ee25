package io.sparkformers.training.models.qwen2;

import io.sparkformers.training.models.llama.LlamaArchitecture;
import io.sparkformers.training.models.llama.LlamaConfig;

/**
 * {@code model_type: qwen2} → {@link LlamaConfig} (variant {@code QWEN2}) and
 * {@link io.sparkformers.training.models.llama.LlamaForCausalLM}.
 */
public final class Qwen2Architecture extends LlamaArchitecture {
  public Qwen2Architecture() {
    super(LlamaConfig.Variant.QWEN2);
  }
}
