/**
 * End-to-end tests against real multi-process Spark ({@code local-cluster} executors are separate JVMs),
 * real sockets between ranks and a real S3-compatible server. Test classes end in {@code IT} and run in
 * Maven's {@code integration-test} phase.
 */
package io.sparkformers.it;
