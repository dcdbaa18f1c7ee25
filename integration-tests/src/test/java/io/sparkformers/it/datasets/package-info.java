/** End-to-end tests of datasets-arrow: s3a:// through a real S3 server, Spark conversions on executor JVMs. */
package io.sparkformers.it.datasets;
