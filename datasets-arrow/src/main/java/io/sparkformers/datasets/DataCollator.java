package io.sparkformers.datasets;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.List;
import java.util.Map;

/**
 * Turns a list of examples (rows) into a batch of NDArrays, like Hugging Face's data collators. The arrays
 * must be created with {@code manager}, which the {@link DataLoader} closes with the batch.
 */
@FunctionalInterface
public interface DataCollator {
  Map<String, NDArray> collate(List<Map<String, Object>> examples, NDManager manager);
}
