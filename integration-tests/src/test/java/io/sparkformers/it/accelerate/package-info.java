/**
 * The accelerate-spark launcher and process groups across real executor JVMs ({@code local-cluster}), and
 * Accelerator state on a real S3-compatible server.
 */
package io.sparkformers.it.accelerate;
