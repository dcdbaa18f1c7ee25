package io.sparkformers.training.models.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;

/**
 * A model folder named by a Hadoop URI ({@code s3a://bucket/models/gpt2}, {@code hdfs://...}, {@code file:/...}),
 * copied file by file (the folder's own files; model folders are flat) to a new local temporary folder, so
 * that it need not exist on every node. A plain path (no scheme) is a local folder and is used as it is.
 */
public final class RemoteModelFolder {
  private RemoteModelFolder() {}

  /** True when {@code folder} is a URI with a scheme (to be read through Hadoop's FileSystem). */
  public static boolean isUri(String folder) {
    int colon = folder.indexOf(':');
    // A scheme has 2+ characters, which also keeps a Windows drive letter ("C:\...") a local path.
    return colon > 1 && folder.substring(0, colon).matches("[A-Za-z][A-Za-z0-9+.-]*");
  }

  /** The Hadoop configuration's entries, to ship to executors (Configuration is not serializable). */
  public static Map<String, String> entries(Configuration conf) {
    Map<String, String> out = new HashMap<>();
    for (Map.Entry<String, String> e : conf) {
      out.put(e.getKey(), e.getValue());
    }
    return out;
  }

  /**
   * Copies the files of the folder at {@code uri} into a new temporary folder and returns it (the caller
   * deletes it with {@link #delete}).
   */
  public static Path copyToLocal(String uri, Map<String, String> hadoopConf) {
    Configuration conf = new Configuration(false);
    hadoopConf.forEach(conf::set);
    Path local;
    try {
      local = Files.createTempDirectory("sparkformers-model-");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create a local folder for the model " + uri, e);
    }
    try (FileSystem fs = FileSystem.newInstance(URI.create(uri), conf)) {
      org.apache.hadoop.fs.Path remote = new org.apache.hadoop.fs.Path(uri);
      if (!fs.getFileStatus(remote).isDirectory()) {
        throw new IllegalArgumentException(uri + " is not a folder (a model folder holds config.json and the"
            + " weights)");
      }
      int copied = 0;
      for (FileStatus f : fs.listStatus(remote)) {
        if (!f.isFile()) {
          continue;
        }
        try (InputStream in = fs.open(f.getPath())) {
          Files.copy(in, local.resolve(f.getPath().getName()), StandardCopyOption.REPLACE_EXISTING);
        }
        copied++;
      }
      if (copied == 0) {
        throw new IllegalArgumentException(uri + " holds no files (a model folder holds config.json and the weights)");
      }
      return local;
    } catch (java.io.FileNotFoundException e) {
      delete(local);
      throw new IllegalArgumentException("model folder " + uri + " does not exist", e);
    } catch (IOException e) {
      delete(local);
      throw new UncheckedIOException("cannot copy the model folder " + uri + " to " + local + ": " + e.getMessage(),
          e);
    } catch (RuntimeException e) {
      delete(local);
      throw e;
    }
  }

  /** Deletes a folder made by {@link #copyToLocal} (its files, then itself); failures are ignored. */
  public static void delete(Path local) {
    try (var files = Files.list(local)) {
      for (Path f : (Iterable<Path>) files::iterator) {
        Files.deleteIfExists(f);
      }
      Files.deleteIfExists(local);
    } catch (IOException ignored) {
      // A temporary folder left behind is harmless; the model is already in memory.
    }
  }
}
