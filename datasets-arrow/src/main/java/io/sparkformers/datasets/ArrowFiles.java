package io.sparkformers.datasets;

import io.sparkformers.datasets.internal.DatasetFolder;
import io.sparkformers.datasets.internal.Fingerprint;
import java.nio.file.Path;
import java.util.List;

/**
 * Arrow IPC files of known columns opened as one memory-mapped dataset (rows in file order), without copying
 * them into the cache: shards that a job wrote to storage and a task reads where they lie (or from its local
 * copy of them).
 */
public final class ArrowFiles {
  private ArrowFiles() {}

  /**
   * Opens {@code names} in {@code folder}; the folder and its files stay the caller's.
   *
   * @param rows the rows the files hold together
   * @param cacheDir where derived datasets (after select, shuffle, ...) are written
   * @throws IllegalArgumentException when a file is not Arrow IPC of these columns or the files hold another
   *     number of rows
   */
  public static Dataset open(Path folder, List<String> names, Features features, long rows, Path cacheDir) {
    return Dataset.open(folder, new DatasetFolder.State(Fingerprint.random(), features, rows, List.copyOf(names)),
        cacheDir, null);
  }
}
