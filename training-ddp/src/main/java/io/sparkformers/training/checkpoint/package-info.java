/**
 * Checkpoints in Hugging Face's layout ({@code output_dir/checkpoint-<step>/}): written atomically (a
 * temporary folder, then a rename) to local paths or any Hadoop FileSystem URI, verified by SHA-256 on the
 * way back, rotated by {@code save_total_limit}; and the safetensors format they hold tensors in.
 */
package io.sparkformers.training.checkpoint;
