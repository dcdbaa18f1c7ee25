/** End-to-end tests of the jobs module's jar as users run it: spark-submit's launcher, real executor JVMs. */
package io.sparkformers.it.jobs;
