/**
 * Mistral ({@code model_type: mistral}): the Llama decoder without biases, whose {@code sliding_window} is
 * accepted where it does not change the result; registered here, computed by
 * {@link io.sparkformers.training.models.llama.LlamaForCausalLM}.
 */
package io.sparkformers.training.models.mistral;
