/**
 * GPT-2 ({@code model_type: gpt2}): its config, the GPT2LMHeadModel module tree, and its registration.
 */
package io.sparkformers.training.models.gpt2;
