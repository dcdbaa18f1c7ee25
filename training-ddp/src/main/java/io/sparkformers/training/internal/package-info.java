/** Internals of the Trainer (name matching, tensor helpers); users never import this package. */
package io.sparkformers.training.internal;
