/**
 * The data path of every training run: Hugging Face-style {@code Dataset}s held as Arrow record batches,
 * memory-mapped from an Arrow IPC cache, with loaders, transforms, streaming, sharding by rank, tokenizers,
 * collators and the {@code DataLoader} that yields batches; {@code SparkDataset} holds loaded rows in Spark
 * partitions on the executors instead. It knows nothing of training.
 */
package io.sparkformers.datasets;
