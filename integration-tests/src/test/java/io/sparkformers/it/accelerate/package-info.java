/** The accelerate-spark launcher and process groups across real executor JVMs ({@code local-cluster}). */
package io.sparkformers.it.accelerate;
