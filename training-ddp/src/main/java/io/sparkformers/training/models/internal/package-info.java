/**
 * Internals of the models: JSON config reading, the safetensors header parser, parameter tables and the tensor
 * arithmetic shared by the architectures. Users never import this package.
 */
package io.sparkformers.training.models.internal;
