package io.sparkformers.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Rows the Trainer can batch: it decides which rows form a batch (shuffled by {@code data_seed}, dealt to
 * ranks as accelerate deals batches), and asks for their tensors by Hugging Face input name.
 */
public interface TrainingData {

  /** The number of rows. */
  long numRows();

  /** The column names, which are the model's input names ({@code features}, {@code labels}, ...). */
  Set<String> columns();

  /** The given rows, in the given order, as tensors created by {@code manager}, keyed by column name. */
  Map<String, NDArray> batch(NDManager manager, long[] rows);

  /**
   * Fails, naming the columns missing and those there are, unless {@code data} (when not null) has every
   * column in {@code required}.
   */
  static void requireColumns(TrainingData data, String which, List<String> required, String modelType) {
    if (data == null) {
      return;
    }
    List<String> missing = required.stream().filter(c -> !data.columns().contains(c)).toList();
    if (!missing.isEmpty()) {
      throw new IllegalArgumentException("the " + which + " dataset lacks the column(s) " + missing
          + " that a '" + modelType + "' model needs; it has " + data.columns());
    }
  }
}
