/**
 * The TCP backend ({@code "tcp"}), the CPU path: a full mesh of authenticated NIO connections, a
 * bandwidth-optimal ring all-reduce with receive-side reduction pipelined in chunks, recursive doubling for
 * small messages, and a single-threaded non-blocking progress loop with timeouts.
 */
package io.sparkformers.accelerate.tcp;
