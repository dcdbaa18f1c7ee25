/**
 * Optimizers that update DJL parameters in place exactly as {@code torch.optim} does ({@code AdamW},
 * {@code SGD}), gradient clipping by the total L2 norm ({@code clip_grad_norm_}) and dynamic loss scaling
 * ({@code GradScaler}). Used by the Trainer; usable on their own.
 */
package io.sparkformers.training.optim;
