package io.sparkformers.training.optim;

import ai.djl.ndarray.NDArray;

/**
 * One trainable tensor with its name and whether weight decay applies to it ({@link OptimizerFactory} decides,
 * as transformers exempts biases and normalisation weights).
 */
public record Param(String name, NDArray array, boolean decay) {}
