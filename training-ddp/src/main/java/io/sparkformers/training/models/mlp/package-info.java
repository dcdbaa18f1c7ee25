/**
 * Our own {@code model_type: mlp}: a classifier over feature vectors laid out as torch's nn.Sequential, and its
 * registration.
 */
package io.sparkformers.training.models.mlp;
