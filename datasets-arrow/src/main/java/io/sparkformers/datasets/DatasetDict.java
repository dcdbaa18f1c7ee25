package io.sparkformers.datasets;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Named splits ("train", "test", ...), each a {@link Dataset}; closing it closes every split. */
public final class DatasetDict implements AutoCloseable {
  private final Map<String, Dataset> splits;

  public DatasetDict(Map<String, Dataset> splits) {
    this.splits = Collections.unmodifiableMap(new LinkedHashMap<>(splits));
  }

  /** Loads each split from its files: split name → paths (see {@link DatasetLoader}). */
  public static DatasetDict load(DataFormat format, LoadOptions options, Map<String, List<String>> dataFiles) {
    Map<String, Dataset> out = new LinkedHashMap<>();
    try {
      for (Map.Entry<String, List<String>> e : dataFiles.entrySet()) {
        out.put(e.getKey(), DatasetLoader.load(format, options, e.getValue()));
      }
    } catch (RuntimeException e) {
      out.values().forEach(Dataset::close);
      throw e;
    }
    return new DatasetDict(out);
  }

  /** The split, or an error naming the splits there are. */
  public Dataset get(String split) {
    Dataset d = splits.get(split);
    if (d == null) {
      throw new IllegalArgumentException("No split '" + split + "'; splits are " + splits.keySet());
    }
    return d;
  }

  public Set<String> splitNames() {
    return splits.keySet();
  }

  public Map<String, Dataset> asMap() {
    return splits;
  }

  @Override
  public void close() {
    splits.values().forEach(Dataset::close);
  }

  @Override
  public String toString() {
    return "DatasetDict" + splits;
  }
}
