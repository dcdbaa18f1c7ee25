/**
 * Makes N Spark tasks one training job: process groups and their collectives (all-reduce, all-gather,
 * broadcast, barrier) over pluggable transports, rendezvous and launch through Spark barrier mode, and the
 * {@code Accelerator} a training loop talks to. It knows nothing of models beyond lists of buffers.
 */
package io.sparkformers.accelerate;
