package io.sparkformers.datasets;

import io.sparkformers.datasets.internal.ArrowFileRows;
import io.sparkformers.datasets.internal.ArrowShardWriter;
import io.sparkformers.datasets.internal.ArrowTable;
import io.sparkformers.datasets.internal.DatasetFolder;
import io.sparkformers.datasets.internal.CacheDirectory;
import io.sparkformers.datasets.internal.CsvReader;
import io.sparkformers.datasets.internal.Fingerprint;
import io.sparkformers.datasets.internal.FolderWriter;
import io.sparkformers.datasets.internal.InputFiles;
import io.sparkformers.datasets.internal.InputFiles.InputFile;
import io.sparkformers.datasets.internal.JsonReader;
import io.sparkformers.datasets.internal.ParquetRows;
import io.sparkformers.datasets.internal.Utf8LineReader;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import org.apache.spark.api.java.JavaSparkContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hugging Face's {@code load_dataset(format, data_files=...)}: reads csv, json/jsonl, parquet, arrow or text
 * files (local paths, globs, folders, or Hadoop URIs such as {@code s3a://bucket/prefix/*.jsonl}) into an
 * Arrow dataset in the cache folder. The cache key is a fingerprint of the files' identity (path, size,
 * modification time) and the options: an identical second load reuses the cache. With a SparkSession in the
 * options, the files are parsed by a Spark job, one task per file, each writing an Arrow shard.
 */
public final class DatasetLoader {
  private static final Logger LOG = LoggerFactory.getLogger(DatasetLoader.class);

  private DatasetLoader() {}

  public static Dataset load(DataFormat format, LoadOptions options, List<String> locations) {
    Path cacheDir = CacheDirectory.resolve(options.cacheDir());
    InputFiles inputs = new InputFiles(options.hadoopConfiguration());
    List<InputFile> files = inputs.resolve(locations);
    String fingerprint = Fingerprint.of("load", format, options.fingerprintKey(), identities(files));
    if (options.spark() != null) {
      return loadWithSpark(format, options, files, fingerprint, cacheDir);
    }
    Features features = options.features() != null ? options.features() : inferAll(format, options, inputs, files);
    return Dataset.writeCached(cacheDir, fingerprint, format + " files " + files, features, w -> {
      for (InputFile f : files) {
        readFile(format, options, inputs, f, features, w::write);
      }
    });
  }

  /** What the parsers need, serializable for Spark tasks (LoadOptions holds the SparkSession). */
  record ParseSettings(char delimiter, char quote, boolean header, List<String> columnNames,
      Map<String, String> hadoop) implements java.io.Serializable {
    static ParseSettings of(LoadOptions options) {
      return new ParseSettings(options.delimiter(), options.quote(), options.header(),
          options.columnNames() == null ? null : new java.util.ArrayList<>(options.columnNames()),
          new java.util.TreeMap<>(options.hadoopConfiguration()));
    }

    LoadOptions options() {
      return LoadOptions.builder().delimiter(delimiter).quote(quote).header(header).columnNames(columnNames)
          .hadoopConfiguration(hadoop).build();
    }
  }

  /** One Spark task per file infers its types, then one task per file writes it as an Arrow shard. */
  private static Dataset loadWithSpark(DataFormat format, LoadOptions options, List<InputFile> files,
      String fingerprint, Path cacheDir) {
    Path folder = cacheDir.resolve(fingerprint);
    if (DatasetFolder.isComplete(folder)) {
      LOG.info("Loading cached {} files from {}", format, folder);
      return Dataset.open(folder, DatasetFolder.read(folder), cacheDir, null);
    }
    ParseSettings settings = ParseSettings.of(options);
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(options.spark().sparkContext());
    int n = Math.max(1, files.size());
    Features features = options.features();
    if (features == null) {
      try {
        features = inferWithSpark(jsc, format, settings, files);
      } catch (Exception e) { // SparkException is checked but thrown undeclared from Scala
        throw unwrapSparkFailure(e);
      }
    }
    Features schema = features;
    Path temp = cacheDir.resolve(".tmp-" + java.util.UUID.randomUUID());
    String target = temp.toAbsolutePath().toString();
    try {
      List<InputFile> all = new java.util.ArrayList<>(files);
      List<Long> counts = fileIndices(jsc, files).mapPartitionsWithIndex((Integer index, java.util.Iterator<Integer> it) -> {
        Path file = java.nio.file.Paths.get(target).resolve(DatasetFolder.fileName(index, n));
        InputFiles inputs = new InputFiles(settings.hadoop());
        long rows = 0;
        try (ArrowShardWriter w = new ArrowShardWriter(file, schema, ArrowShardWriter.DEFAULT_BATCH_ROWS)) {
          while (it.hasNext()) {
            readFile(format, settings.options(), inputs, all.get(it.next()), schema, w::write);
          }
          w.commit();
          rows = w.rows();
        }
        return List.of(rows).iterator();
      }, true).collect();
      List<String> names = new java.util.ArrayList<>();
      long total = 0;
      for (int i = 0; i < n; i++) {
        names.add(DatasetFolder.fileName(i, n));
        total += counts.get(i);
      }
      DatasetFolder.write(temp, new DatasetFolder.State(fingerprint, schema, total, names));
      try {
        java.nio.file.Files.move(temp, folder, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
      } catch (java.nio.file.FileAlreadyExistsException | java.nio.file.DirectoryNotEmptyException e) {
        ArrowTable.deleteRecursively(temp);
      }
    } catch (java.io.IOException e) {
      ArrowTable.deleteRecursively(temp);
      throw new java.io.UncheckedIOException("Cannot write the cache folder " + folder, e);
    } catch (Exception e) { // SparkException is checked but thrown undeclared from Scala
      ArrowTable.deleteRecursively(temp);
      throw unwrapSparkFailure(e);
    }
    LOG.info("Wrote {} {} files with Spark to the cache folder {}", files.size(), format, folder);
    return Dataset.open(folder, DatasetFolder.read(folder), cacheDir, null);
  }

  /** Each file's columns inferred by its own Spark task, merged here as {@link #inferAll} merges them. */
  static Features inferWithSpark(JavaSparkContext jsc, DataFormat format, ParseSettings settings,
      List<InputFile> files) {
    return mergeAll(format, files, inferEachWithSpark(jsc, format, settings, files));
  }

  /** Each file's columns, in order, inferred by its own Spark task (a column null throughout typed null). */
  static List<Map<String, ColumnType>> inferEachWithSpark(JavaSparkContext jsc, DataFormat format,
      ParseSettings settings, List<InputFile> files) {
    List<InputFile> all = new java.util.ArrayList<>(files);
    return fileIndices(jsc, files)
        .map(i -> (Map<String, ColumnType>) new java.util.LinkedHashMap<>(
            inferFile(format, settings.options(), new InputFiles(settings.hadoop()), all.get(i))))
        .collect();
  }

  /**
   * The columns of the {@code lines} JSON lines of {@code f} that start at byte {@code offset}, after
   * {@code linesBefore} lines, as {@link JsonReader#inferLines} types them.
   */
  static Map<String, ColumnType> inferLines(InputFiles inputs, InputFile f, long offset, long linesBefore,
      long lines) {
    if (lines == 0) {
      return new java.util.LinkedHashMap<>();
    }
    try (Utf8LineReader reader = new Utf8LineReader(inputs.openAt(f, offset), f.uri())) {
      reader.startAt(offset, linesBefore).limitLines(linesBefore + lines);
      return JsonReader.inferLines(reader, f.uri());
    }
  }

  /**
   * One partition per file holding the file's position in {@code files} (the tasks take the files from their
   * closure): the elements of a parallelized collection travel with the session's serializer, and Kryo, which
   * the shipped spark-defaults.conf sets, cannot write a record such as {@link InputFile}.
   */
  static org.apache.spark.api.java.JavaRDD<Integer> fileIndices(JavaSparkContext jsc, List<InputFile> files) {
    List<Integer> indices = new java.util.ArrayList<>();
    for (int i = 0; i < files.size(); i++) {
      indices.add(i);
    }
    return jsc.parallelize(indices, Math.max(1, files.size()));
  }

  /** A task's bad-input error arrives wrapped in SparkException: surface its own message. */
  static RuntimeException unwrapSparkFailure(Exception e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof IllegalArgumentException) {
        return new IllegalArgumentException(t.getMessage(), e);
      }
    }
    // Spark may pass only the task's exception text: "... java.lang.IllegalArgumentException: MESSAGE\n\tat ..."
    String m = String.valueOf(e.getMessage());
    String marker = IllegalArgumentException.class.getName() + ": ";
    int at = m.indexOf(marker);
    if (at >= 0) {
      String rest = m.substring(at + marker.length());
      int end = rest.indexOf('\n');
      return new IllegalArgumentException(end >= 0 ? rest.substring(0, end) : rest, e);
    }
    return e instanceof RuntimeException ? (RuntimeException) e : new IllegalStateException(e.getMessage(), e);
  }

  static Features mergeAll(DataFormat format, List<InputFile> files, List<Map<String, ColumnType>> perFile) {
    Map<String, ColumnType> merged = null;
    InputFile first = null;
    for (int i = 0; i < files.size(); i++) {
      Map<String, ColumnType> found = perFile.get(i);
      if (found.isEmpty()) {
        continue;
      }
      if (merged == null) {
        merged = found;
        first = files.get(i);
        continue;
      }
      merged = merge(merged, first, found, files.get(i));
    }
    if (merged == null) {
      return noColumns(format, files);
    }
    Features.Builder b = Features.builder();
    merged.forEach((name, t) -> b.add(name, t == null ? ColumnType.STRING : t));
    return b.build();
  }

  /**
   * The features of files that name no column: text files have their one column; CSV files without even a header
   * row are an error, as pandas' "No columns to parse from file" under Hugging Face's csv loader.
   */
  private static Features noColumns(DataFormat format, List<InputFile> files) {
    if (format == DataFormat.TEXT) {
      return Features.of("text", ColumnType.STRING);
    }
    if (format == DataFormat.CSV && !files.isEmpty()) {
      throw new IllegalArgumentException((files.size() == 1 ? files.get(0) + " is empty"
          : files + " are all empty") + ": a CSV file needs a header row (or data rows without one)");
    }
    return Features.empty();
  }

  private static String identities(List<InputFile> files) {
    StringBuilder s = new StringBuilder();
    for (InputFile f : files) {
      s.append(f.uri()).append('|').append(f.size()).append('|').append(f.modificationTime()).append('\n');
    }
    return s.toString();
  }

  /** The features common to all files; a column missing in one file, or typed differently, names both. */
  static Features inferAll(DataFormat format, LoadOptions options, InputFiles inputs, List<InputFile> files) {
    Map<String, ColumnType> merged = null;
    InputFile first = null;
    for (InputFile f : files) {
      Map<String, ColumnType> found = inferFile(format, options, inputs, f);
      if (found.size() == 0) {
        continue; // an empty file adds no rows and says nothing about the columns
      }
      if (merged == null) {
        merged = found;
        first = f;
        continue;
      }
      merged = merge(merged, first, found, f);
    }
    if (merged == null) {
      return noColumns(format, files);
    }
    Features.Builder b = Features.builder();
    merged.forEach((n, t) -> b.add(n, t == null ? ColumnType.STRING : t)); // null throughout: STRING
    return b.build();
  }

  private static Map<String, ColumnType> merge(Map<String, ColumnType> a, InputFile fileA,
      Map<String, ColumnType> b, InputFile fileB) {
    for (String name : a.keySet()) {
      if (!b.containsKey(name)) {
        throw new IllegalArgumentException("Column '" + name + "' is in " + fileA + " but missing in " + fileB);
      }
    }
    Map<String, ColumnType> out = new java.util.LinkedHashMap<>();
    for (String name : b.keySet()) {
      if (!a.containsKey(name)) {
        throw new IllegalArgumentException("Column '" + name + "' is in " + fileB + " but missing in " + fileA);
      }
    }
    for (String name : a.keySet()) {
      ColumnType ta = a.get(name);
      ColumnType tb = b.get(name);
      ColumnType t = ta == null ? tb : ta;
      if (ta != null && tb != null && ta != tb) {
        Set<ColumnType> pair = Set.of(ta, tb);
        if (pair.equals(Set.of(ColumnType.INT64, ColumnType.FLOAT64))) {
          t = ColumnType.FLOAT64;
        } else if (pair.equals(Set.of(ColumnType.INT64_LIST, ColumnType.FLOAT64_LIST))) {
          t = ColumnType.FLOAT64_LIST;
        } else if (pair.equals(Set.of(ColumnType.INT64_LIST, ColumnType.STRING_LIST))) {
          t = ColumnType.STRING_LIST; // a file whose lists were all empty
        } else {
          throw new IllegalArgumentException("Column '" + name + "' is " + ta + " in " + fileA + " but " + tb
              + " in " + fileB);
        }
      }
      out.put(name, t);
    }
    return out;
  }

  /** The columns of one file in order, each with its type or null when only nulls were seen. */
  static Map<String, ColumnType> inferFile(DataFormat format, LoadOptions options, InputFiles inputs,
      InputFile f) {
    switch (format) {
      case CSV:
        try (Utf8LineReader lines = new Utf8LineReader(inputs.open(f), f.uri())) {
          return csv(options).infer(lines).asMap();
        }
      case JSON:
        return JsonReader.infer(() -> inputs.open(f), f.uri());
      case TEXT:
        return Features.of("text", ColumnType.STRING).asMap();
      case ARROW:
        return ArrowFileRows.features(inputs, f).asMap();
      case PARQUET:
        return ParquetRows.features(inputs, f).asMap();
      default:
        throw new IllegalStateException(format.toString());
    }
  }

  static void readFile(DataFormat format, LoadOptions options, InputFiles inputs, InputFile f, Features features,
      Consumer<Map<String, Object>> sink) {
    switch (format) {
      case CSV:
        try (Utf8LineReader lines = new Utf8LineReader(inputs.open(f), f.uri())) {
          csv(options).read(lines, features, sink);
        }
        return;
      case JSON:
        JsonReader.read(() -> inputs.open(f), f.uri(), features, sink);
        return;
      case TEXT:
        try (Utf8LineReader lines = new Utf8LineReader(inputs.open(f), f.uri())) {
          String line;
          while ((line = lines.readLine()) != null) {
            sink.accept(Map.of("text", line));
          }
        }
        return;
      case ARROW:
        ArrowFileRows.read(inputs, f, features, sink);
        return;
      case PARQUET:
        ParquetRows.read(inputs, f, features, sink);
        return;
      default:
        throw new IllegalStateException(format.toString());
    }
  }

  /**
   * Whether {@code f} can be read as byte ranges by several tasks: an uncompressed text or JSON-lines file (not
   * one JSON array) larger than {@code rangeBytes}.
   */
  static boolean splittable(DataFormat format, InputFiles inputs, InputFile f, long rangeBytes) {
    if ((format != DataFormat.TEXT && format != DataFormat.JSON) || f.size() <= rangeBytes
        || InputFiles.isCompressed(f)) {
      return false;
    }
    return format == DataFormat.TEXT || !JsonReader.isArray(() -> inputs.open(f), f.uri());
  }

  /**
   * The rows of the {@code lines} lines of a text or JSON-lines file that start at byte {@code offset}, after
   * {@code linesBefore} lines (so that errors name the file's own line numbers), as {@link #readFile} reads them.
   */
  static void readLines(DataFormat format, InputFiles inputs, InputFile f, Features features, long offset,
      long linesBefore, long lines, Consumer<Map<String, Object>> sink) {
    if (lines == 0) {
      return;
    }
    try (Utf8LineReader reader = new Utf8LineReader(inputs.openAt(f, offset), f.uri())) {
      reader.startAt(offset, linesBefore).limitLines(linesBefore + lines);
      if (format == DataFormat.TEXT) {
        String line;
        while ((line = reader.readLine()) != null) {
          sink.accept(Map.of("text", line));
        }
      } else if (format == DataFormat.JSON) {
        JsonReader.readLines(reader, f.uri(), features, (row, r) -> sink.accept(row));
      } else {
        throw new IllegalStateException(format + " files are not read by line ranges");
      }
    }
  }

  private static CsvReader csv(LoadOptions options) {
    return new CsvReader(options.delimiter(), options.quote(), options.header(), options.columnNames());
  }

  /** Writes the rows of {@code files} into {@code writer}; used by the Spark loader's tasks. */
  static void readInto(DataFormat format, LoadOptions options, InputFiles inputs, InputFile f, Features features,
      FolderWriter writer) {
    readFile(format, options, inputs, f, features, writer::write);
  }
}
