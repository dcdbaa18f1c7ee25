package io.sparkformers.accelerate;

/**
 * Marks an exception that a retry cannot cure (a corrupt input file, a model whose shapes differ from its
 * weights, a bad setting): when a rank function throws one, or an {@link IllegalArgumentException}, anywhere
 * in its cause chain, {@link BarrierLauncher} fails the launch at once instead of letting Spark run the barrier
 * stage again.
 */
public interface NonRetryable {}
