/**
 * Data parallelism over a {@link io.sparkformers.accelerate.ProcessGroup}: rank 0's weights broadcast at the
 * start, and gradients averaged between backward and the optimizer step in buckets whose copies and
 * all-reduces are pipelined, read and written through DJL's zero-copy views.
 */
package io.sparkformers.training.ddp;
