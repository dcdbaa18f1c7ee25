/**
 * The command line and spark-submit entry point ({@link io.sparkformers.jobs.SparkformersCommand}): it turns
 * arguments and config files into typed settings, calls the public APIs of the other modules, and reports
 * results through exit codes and files a scheduler can read. It holds no training or metric logic itself.
 */
package io.sparkformers.jobs;
