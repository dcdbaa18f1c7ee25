/** Learning-rate schedules exactly as transformers' {@code get_scheduler} builds them (a LambdaLR). */
package io.sparkformers.training.schedule;
