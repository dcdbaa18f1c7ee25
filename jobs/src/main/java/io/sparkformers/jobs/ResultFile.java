package io.sparkformers.jobs;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;

/**
 * The {@code --result-json FILE} of a command, for schedulers (Airflow's XCom, a wrapper script): one JSON object
 * with the status ({@code succeeded} or {@code failed}), the exit code, the metrics, the output paths and, on
 * failure, the error line. Written whole at the end, to a temporary name next to the file and then renamed, so a
 * reader never sees half a file. The location is a local path or a Hadoop URI ({@code s3a://}, {@code hdfs://}),
 * with Hadoop settings from the job's {@code data.hadoop} and Spark's {@code spark.hadoop.*}.
 */
public final class ResultFile {
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private final String command;
  private final Instant started = Instant.now();
  private final Map<String, Object> fields = new LinkedHashMap<>();

  /** Starts the result of {@code command} (its clock starts now). */
  public ResultFile(String command) {
    this.command = command;
  }

  /** Adds a field (a path, the metrics, ...); null values are left out. */
  public ResultFile put(String key, Object value) {
    if (value != null) {
      fields.put(key, value);
    }
    return this;
  }

  /** The object of a finished command: status, exit code, the fields, timing, and the error line if any. */
  public Map<String, Object> content(int exitCode, Throwable error) {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("status", exitCode == ExitCodes.OK ? "succeeded" : "failed");
    out.put("exit_code", exitCode);
    out.put("command", command);
    out.putAll(fields);
    if (error != null) {
      out.put("error", ExitCodes.message(error).lines().findFirst().orElse(""));
    }
    Instant finished = Instant.now();
    out.put("started_at", started.toString());
    out.put("finished_at", finished.toString());
    out.put("duration_seconds", Duration.between(started, finished).toMillis() / 1000.0);
    return out;
  }

  /** Writes {@link #content} to {@code location} atomically. */
  public void write(String location, int exitCode, Throwable error, Map<String, String> hadoop) throws IOException {
    write(location, JSON.writeValueAsBytes(content(exitCode, error)), hadoop);
  }

  /** Writes {@code bytes} to a local path or Hadoop URI: a temporary file beside it, then a rename. */
  static void write(String location, byte[] bytes, Map<String, String> hadoop) throws IOException {
    if (isHadoopUri(location)) {
      writeHadoop(location, bytes, hadoop);
      return;
    }
    Path target = Path.of(location).toAbsolutePath();
    Path dir = target.getParent();
    Files.createDirectories(dir);
    // A plain create (not createTempFile, which makes 0600) gives the file the process umask's mode: a result
    // file is read by the scheduler, often as another user.
    Path temp = dir.resolve("." + target.getFileName() + "." + ProcessHandle.current().pid() + "."
        + Long.toHexString(System.nanoTime()) + ".tmp");
    try {
      Files.write(temp, bytes, java.nio.file.StandardOpenOption.CREATE_NEW);
      try {
        Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
      }
    } finally {
      Files.deleteIfExists(temp);
    }
  }

  static boolean isHadoopUri(String location) {
    int colon = location.indexOf("://");
    return colon > 1 && !location.startsWith("file://");
  }

  private static void writeHadoop(String location, byte[] bytes, Map<String, String> hadoop) throws IOException {
    Configuration conf = hadoopConfiguration(hadoop);
    org.apache.hadoop.fs.Path target = new org.apache.hadoop.fs.Path(URI.create(location));
    FileSystem fs = target.getFileSystem(conf);
    org.apache.hadoop.fs.Path temp = new org.apache.hadoop.fs.Path(target.getParent(),
        "." + target.getName() + "." + Long.toHexString(System.nanoTime()) + ".tmp");
    try (OutputStream out = fs.create(temp, true)) {
      out.write(bytes);
    }
    // Hadoop's rename does not replace: remove the previous result first (an object store's rename is a copy
    // of the complete object, so a reader still sees the old file or the new one, never a part).
    if (fs.exists(target)) {
      fs.delete(target, false);
    }
    if (!fs.rename(temp, target)) {
      fs.delete(temp, false);
      throw new IOException("could not rename " + temp + " to " + target);
    }
  }

  /** Spark's {@code spark.hadoop.*} settings (spark-submit --conf), then {@code extra}, over Hadoop's defaults. */
  static Configuration hadoopConfiguration(Map<String, String> extra) {
    Configuration conf = new Configuration();
    for (scala.Tuple2<String, String> kv : new org.apache.spark.SparkConf().getAllWithPrefix("spark.hadoop.")) {
      conf.set(kv._1(), kv._2());
    }
    extra.forEach(conf::set);
    return conf;
  }

  /** The text of a result, for tests and for printing. */
  public String json(int exitCode, Throwable error) throws IOException {
    return new String(JSON.writeValueAsBytes(content(exitCode, error)), StandardCharsets.UTF_8);
  }
}
