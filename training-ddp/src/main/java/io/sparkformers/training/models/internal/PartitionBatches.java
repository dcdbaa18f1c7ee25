package io.sparkformers.training.models.internal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;

/** What generation over a DataFrame's partitions shares: batching rows, and one model per folder per JVM. */
public final class PartitionBatches {
  private PartitionBatches() {}

  /** Loads a model (or pipeline) from a local folder. */
  @FunctionalInterface
  public interface Loader<T> {
    T load(Path localFolder) throws IOException;
  }

  /**
   * The rows with columns appended, computed a batch of up to {@code batchSize} rows at a time:
   * {@code appended} returns, for a batch, each row's new values in order.
   */
  public static Iterator<Row> appendColumns(Iterator<Row> rows, int batchSize,
      Function<List<Row>, List<Object[]>> appended) {
    List<Row> results = new ArrayList<>();
    List<Row> batch = new ArrayList<>();
    while (rows.hasNext()) {
      batch.add(rows.next());
      if (batch.size() == batchSize || !rows.hasNext()) {
        List<Object[]> extra = appended.apply(batch);
        for (int i = 0; i < batch.size(); i++) {
          Row r = batch.get(i);
          Object[] values = new Object[r.length() + extra.get(i).length];
          for (int c = 0; c < r.length(); c++) {
            values[c] = r.get(c);
          }
          System.arraycopy(extra.get(i), 0, values, r.length(), extra.get(i).length);
          results.add(RowFactory.create(values));
        }
        batch.clear();
      }
    }
    return results.iterator();
  }

  /**
   * The value {@code loaded} holds for {@code folder}, loading it the first time: a folder given as a Hadoop
   * URI is copied to a local folder first and deleted once loaded (the weights are in memory then).
   */
  public static <T> T loadOnce(Map<String, T> loaded, String folder, Map<String, String> hadoopConf,
      Loader<T> loader) {
    return loaded.computeIfAbsent(folder, f -> {
      boolean remote = RemoteModelFolder.isUri(f);
      Path local = remote ? RemoteModelFolder.copyToLocal(f, hadoopConf) : Paths.get(f);
      try {
        return loader.load(local);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      } finally {
        if (remote) {
          RemoteModelFolder.delete(local);
        }
      }
    });
  }

  /** Token ids as Spark's array&lt;int&gt; values. */
  public static Integer[] boxed(int[] ids) {
    Integer[] out = new Integer[ids.length];
    for (int i = 0; i < ids.length; i++) {
      out[i] = ids[i];
    }
    return out;
  }
}
