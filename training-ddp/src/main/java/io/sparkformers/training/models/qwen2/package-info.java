/**
 * Qwen2 ({@code model_type: qwen2}): the Llama decoder with biases on the q/k/v projections; registered here,
 * computed by {@link io.sparkformers.training.models.llama.LlamaForCausalLM}.
 */
package io.sparkformers.training.models.qwen2;
