package io.sparkformers.datasets.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Input files named by local paths, globs, folders or any Hadoop FileSystem URI ({@code hdfs://},
 * {@code s3a://}), resolved through Hadoop's FileSystem so that all of them behave alike. A folder means the
 * files under it, sorted by path; folders and glob patterns leave out hidden files (names starting with '.'
 * or '_'), as Hugging Face does, unless the pattern names them.
 */
public final class InputFiles {
  /** One input file and what identifies its contents for the fingerprint. */
  public record InputFile(String uri, long size, long modificationTime) implements java.io.Serializable {
    @Override
    public String toString() {
      return uri;
    }
  }

  private final Configuration conf;

  public InputFiles(Map<String, String> hadoopSettings) {
    this.conf = new Configuration();
    hadoopSettings.forEach(conf::set);
  }

  public Configuration configuration() {
    return conf;
  }

  public static Path toHadoopPath(String location) {
    URI uri = URI.create(location.replace(" ", "%20"));
    if (uri.getScheme() == null || uri.getScheme().length() == 1) {
      // A local path (or a Windows drive letter): make it absolute.
      return new Path(Paths.get(location).toAbsolutePath().toUri());
    }
    return new Path(location);
  }

  /** The files behind {@code locations}, in order; a location that matches nothing is an error. */
  public List<InputFile> resolve(List<String> locations) {
    List<InputFile> out = new ArrayList<>();
    for (String location : locations) {
      Path path = toHadoopPath(location);
      try {
        FileSystem fs = path.getFileSystem(conf);
        FileStatus[] matched = fs.globStatus(path);
        if (matched == null || matched.length == 0) {
          throw new IllegalArgumentException("No file found at " + location);
        }
        List<FileStatus> files = new ArrayList<>();
        // As Hugging Face: a pattern leaves out hidden files unless it names them itself.
        boolean patternNamesHidden = isHidden(path.getName());
        for (FileStatus s : matched) {
          if (isPattern(location) && !patternNamesHidden && isHidden(s.getPath().getName())) {
            continue;
          }
          if (s.isDirectory()) {
            listRecursively(fs, s.getPath(), files);
          } else {
            files.add(s);
          }
        }
        files.sort(Comparator.comparing(s -> s.getPath().toString()));
        for (FileStatus s : files) {
          out.add(new InputFile(s.getPath().toString(), s.getLen(), s.getModificationTime()));
        }
      } catch (IOException e) {
        throw new UncheckedIOException("Cannot list " + location, e);
      }
    }
    return out;
  }

  private static boolean isPattern(String location) {
    return location.chars().anyMatch(c -> c == '*' || c == '?' || c == '[' || c == '{');
  }

  private static boolean isHidden(String name) {
    return name.startsWith(".") || name.startsWith("_");
  }

  private static void listRecursively(FileSystem fs, Path dir, List<FileStatus> into) throws IOException {
    for (FileStatus s : fs.listStatus(dir)) {
      if (isHidden(s.getPath().getName())) {
        continue;
      }
      if (s.isDirectory()) {
        listRecursively(fs, s.getPath(), into);
      } else {
        into.add(s);
      }
    }
  }

  /** The file's bytes; a name ending in .gz is decompressed on the way, as Hugging Face datasets reads it. */
  public InputStream open(InputFile file) {
    try {
      Path p = new Path(file.uri());
      InputStream in = p.getFileSystem(conf).open(p);
      if (!p.getName().endsWith(".gz")) {
        return in;
      }
      try {
        return new java.util.zip.GZIPInputStream(in, 1 << 16);
      } catch (IOException e) {
        in.close();
        throw new IOException(file.uri() + " ends in .gz but is not gzip data: " + e.getMessage(), e);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot open " + file.uri(), e);
    }
  }

  /** Whether {@link #open} decompresses the file: its bytes cannot be read from an offset. */
  public static boolean isCompressed(InputFile file) {
    return new Path(file.uri()).getName().endsWith(".gz");
  }

  /** The bytes of an uncompressed file from {@code offset} on (a seek, not a read of the bytes before it). */
  public InputStream openAt(InputFile file, long offset) {
    if (isCompressed(file)) {
      throw new IllegalArgumentException(file.uri() + " is compressed: it can only be read from its start");
    }
    try {
      Path p = new Path(file.uri());
      org.apache.hadoop.fs.FSDataInputStream in = p.getFileSystem(conf).open(p);
      try {
        in.seek(offset);
      } catch (IOException e) {
        in.close();
        throw e;
      }
      return in;
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot open " + file.uri() + " at byte " + offset, e);
    }
  }

  /** The local path of a file: URI, or null when it is on a remote file system. */
  public static java.nio.file.Path localPath(InputFile file) {
    URI uri = URI.create(file.uri());
    return "file".equals(uri.getScheme()) ? Paths.get(uri) : null;
  }
}
