/**
 * What {@code sparkformers train} and {@code quickstart} run: the job config file ({@link
 * io.sparkformers.jobs.train.JobConfig#definitions()}, the one declaration of its keys, rendered by {@code
 * ConfigReference} for {@code --list-keys} and the README; {@code --set} overrides; every key checked), the driver's data preparation through datasets-arrow ({@code JobData}: loaders, splits,
 * tokenization on Spark, run_glue's padding and run_clm's group_texts), and the barrier stage that trains one
 * rank per task ({@code TrainJob}). Internal to the jobs module.
 */
package io.sparkformers.jobs.train;
