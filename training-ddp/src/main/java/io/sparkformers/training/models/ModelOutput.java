package io.sparkformers.training.models;

import ai.djl.ndarray.NDArray;

/**
 * What a forward pass returns: the logits, and the scalar loss when labels were given (else null).
 */
public record ModelOutput(NDArray logits, NDArray loss) {}
