/**
 * Configuration keys declared once, as Kafka's {@code ConfigDef}: each {@link io.sparkformers.config.ConfigKey}
 * holds its name, {@link io.sparkformers.config.ConfigType type}, default,
 * {@link io.sparkformers.config.Validator validator}, documentation and group, and a
 * {@link io.sparkformers.config.ConfigDef} is an ordered set of them. Builders, parsing of config maps (with
 * errors naming the source, the key and what was expected; an unknown key names the nearest valid one),
 * key listings and generated reference documentation all read the same declarations. No dependencies, so
 * that every module can declare its keys with it.
 */
package io.sparkformers.config;
