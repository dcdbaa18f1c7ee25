package io.sparkformers.training.models.mistral;

import io.sparkformers.training.models.llama.LlamaArchitecture;
import io.sparkformers.training.models.llama.LlamaConfig;

/**
 * {@code model_type: mistral} → {@link LlamaConfig} (variant {@code MISTRAL}) and
 * {@link io.sparkformers.training.models.llama.LlamaForCausalLM}.
 */
public final class MistralArchitecture extends LlamaArchitecture {
  public MistralArchitecture() {
    super(LlamaConfig.Variant.MISTRAL);
  }
}
