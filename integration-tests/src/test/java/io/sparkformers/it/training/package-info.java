/** The Trainer on real executor JVMs: data-parallel training, and a retried barrier stage resuming. */
package io.sparkformers.it.training;
