/**
 * Internals of {@code io.sparkformers.datasets}: the zero-copy Arrow IPC reader, the Arrow writer, value
 * conversion, fingerprints, numpy-compatible random permutations, and file parsers. Users never import these.
 */
package io.sparkformers.datasets.internal;
