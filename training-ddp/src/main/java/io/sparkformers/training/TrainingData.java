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
   * Where this rank is in data read in order (a stream), as JSON values (maps, lists, strings, numbers,
   * booleans), or null (the default) for data the Trainer addresses by row, which a resumed run reaches from
   * the step count alone. Asked on every rank when a checkpoint is written, after the rows of its last step;
   * the checkpoint holds one {@code data_state_<rank>.json} per rank (torchdata's {@code StatefulDataLoader}
   * state, which accelerate saves with its checkpoints).
   */
  default Map<String, Object> stateDict() {
    return null;
  }

  /**
   * Continues from the state {@link #stateDict()} gave when {@code checkpoint} was written, before the Trainer
   * asks for the rows after it. The default accepts no state: data that records none has nothing to load.
   */
  default void loadStateDict(Map<String, Object> state, String checkpoint) {
    throw new IllegalArgumentException(checkpoint + " holds a data state for this rank, and the train data ("
        + getClass().getSimpleName() + ") records none: the checkpoint was written by a run over other data");
  }

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
