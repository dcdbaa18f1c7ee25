/**
 * Internals of accelerate-spark that users never import: element-wise reductions, float16 conversion, the
 * single-rank group, the torchrun-style environment rendezvous and backend lookup.
 */
package io.sparkformers.accelerate.internal;
