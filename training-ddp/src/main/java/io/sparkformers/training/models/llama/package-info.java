/**
 * Llama ({@code model_type: llama}): the decoder that Qwen2 and Mistral share — its config (both config.json
 * layouts, rotary scaling), LlamaForCausalLM's module tree with a key/value cache, and its registration.
 */
package io.sparkformers.training.models.llama;
