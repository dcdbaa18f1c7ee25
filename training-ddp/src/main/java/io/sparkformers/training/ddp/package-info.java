/**
 * Data parallelism over a {@link io.sparkformers.accelerate.ProcessGroup}: rank 0's weights broadcast at the
 * start, and gradients averaged in buckets that backward writes into directly. With
 * {@code ddp_overlap_backward}, models that cut their forward pass into segments
 * ({@link io.sparkformers.training.internal.BackwardSegments}) have each bucket all-reduced as soon as backward
 * has finished its gradients, while the segments below still run, as PyTorch DDP's gradient hooks do.
 */
package io.sparkformers.training.ddp;
