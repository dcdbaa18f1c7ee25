/**
 * The building blocks models are made of, as torch's {@code nn}: a {@link io.sparkformers.training.models.nn.Module}
 * holds its own parameters and named child modules, and a parameter's Hugging Face name is its path in that tree
 * ({@code transformer.h.0.attn.c_attn.weight}). Leaf modules ({@link io.sparkformers.training.models.nn.Linear},
 * {@link io.sparkformers.training.models.nn.Conv1D}, {@link io.sparkformers.training.models.nn.Embedding},
 * {@link io.sparkformers.training.models.nn.LayerNorm}, {@link io.sparkformers.training.models.nn.RMSNorm}) compute
 * their forward with the models' own operations, so a model built from them computes what it computed before.
 * Each parameter carries a trainable flag: an adapter (LoRA) freezes the base and adds trainable modules.
 *
 * <p>The package sits under {@code models} because its leaves are the models' layers and use the models'
 * operations; the Trainer only sees parameters, never modules.
 */
package io.sparkformers.training.models.nn;
