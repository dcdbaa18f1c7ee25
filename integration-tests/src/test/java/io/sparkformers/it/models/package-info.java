/** Models on real executor JVMs: batch generation from a model folder that lives on S3. */
package io.sparkformers.it.models;
