/**
 * What {@code sparkformers train} and {@code quickstart} run: the job config file (YAML, {@code --set}
 * overrides, every key checked), numeric CSV datasets, and the barrier stage that trains one rank per task.
 * Internal to the jobs module.
 */
package io.sparkformers.jobs.train;
