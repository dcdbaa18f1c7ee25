package io.sparkformers.datasets;

import io.sparkformers.datasets.internal.DatasetFolder;
import java.nio.file.Path;
import java.util.List;

/** What a dataset folder's {@code state.json} says, read without mapping the Arrow files. */
public record DatasetInfo(long rows, Features features, String fingerprint, long sizeInBytes, List<String> files) {
  public static DatasetInfo read(Path folder) {
    DatasetFolder.State s = DatasetFolder.read(folder);
    return new DatasetInfo(s.rows(), s.features(), s.fingerprint(), DatasetFolder.sizeInBytes(folder, s), s.files());
  }
}
