/**
 * Internals of accelerate-spark that users never import: element-wise reductions, float16 conversion, the
 * single-rank group, the torchrun-style environment rendezvous, backend lookup, and the process's C
 * environment (libc through JNA).
 */
package io.sparkformers.accelerate.internal;
