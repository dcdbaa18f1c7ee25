package io.sparkformers.datasets;

import io.sparkformers.datasets.internal.DatasetFolder;
import io.sparkformers.datasets.internal.Fingerprint;
import io.sparkformers.datasets.internal.FolderWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes rows one at a time into a dataset folder that {@link Dataset#loadFromDisk} opens (Hugging Face's
 * {@code ArrowWriter}), for data too large to hold in memory. {@link #finish()} renames the Arrow file into
 * place and writes {@code state.json}; closing without finishing leaves no dataset behind.
 */
public final class DatasetWriter implements AutoCloseable {
  private final Features features;
  private final List<String> names;
  private final FolderWriter writer;

  public DatasetWriter(Path folder, Features features) {
    if (DatasetFolder.isComplete(folder)) {
      throw new IllegalArgumentException(folder + " already holds a dataset; remove it first");
    }
    this.features = features;
    this.names = features.names();
    this.writer = new FolderWriter(folder, features);
  }

  /** Appends a row; values in the order of the features' columns. */
  public void write(Object... values) {
    if (values.length != names.size()) {
      throw new IllegalArgumentException("Expected " + names.size() + " values " + names + ", got " + values.length);
    }
    Map<String, Object> row = new LinkedHashMap<>();
    for (int i = 0; i < values.length; i++) {
      row.put(names.get(i), values[i]);
    }
    writer.write(row);
  }

  public Features features() {
    return features;
  }

  /** Completes the folder; its fingerprint is random (the rows have no known source). */
  public void finish() {
    writer.finish(Fingerprint.random());
  }

  @Override
  public void close() {
    // Unfinished, the Arrow file was never renamed into place nor state.json written: nothing is read.
    writer.close();
  }
}
