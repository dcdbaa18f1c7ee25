package io.sparkformers.jobs.train;

import io.sparkformers.datasets.internal.InputFiles;
import io.sparkformers.training.TrainingArguments;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;

/**
 * {@code output_dir} as transformers' example scripts treat it: a folder that already holds files is an error
 * unless {@code overwrite_output_dir} (the previous run's files are then removed, so that no checkpoint, log line
 * or metric of it mixes with this run's, and a retried Spark stage cannot resume from the old run) or
 * {@code resume_from_checkpoint} (the run continues). Runs once on the driver, before the ranks start.
 */
public final class OutputDir {
  private OutputDir() {}

  /** What a train job writes at the top of its output folder; only these are removed by an overwrite. */
  static final Pattern RUN_FILES = Pattern.compile("(tmp-)?checkpoint-\\d+|model|metrics\\.json"
      + "|log_history\\.jsonl");

  /**
   * Checks {@code args.output_dir} and, with overwrite_output_dir, clears the previous run's files; {@code source}
   * (the job file) starts an error's message.
   */
  public static void prepare(TrainingArguments args, Map<String, String> hadoop, String source) {
    String dir = args.outputDir();
    String resume = args.resumeFromCheckpoint();
    boolean resuming = resume != null && !resume.equalsIgnoreCase("false");
    try {
      List<String> entries = entries(dir, hadoop);
      if (entries.isEmpty() || resuming) {
        return;
      }
      if (!args.overwriteOutputDir()) {
        List<String> shown = entries.size() > 5 ? entries.subList(0, 5) : entries;
        throw new io.sparkformers.jobs.UsageException(source + ": key 'training_args.output_dir': " + dir + " already exists and is not empty"
            + " (" + String.join(", ", shown) + (entries.size() > 5 ? ", ... " + entries.size() + " entries" : "")
            + "): set training_args.overwrite_output_dir: true to replace the previous run, or"
            + " training_args.resume_from_checkpoint: true to continue it");
      }
      for (String name : entries) {
        if (RUN_FILES.matcher(name).matches()) {
          delete(dir, name, hadoop);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("training_args.output_dir: cannot list or clear " + dir, e);
    }
  }

  private static boolean isLocal(String dir) {
    java.net.URI uri = InputFiles.toHadoopPath(dir).toUri();
    return "file".equals(uri.getScheme());
  }

  /** The names in the folder, sorted; none when it does not exist. */
  static List<String> entries(String dir, Map<String, String> hadoop) throws IOException {
    List<String> out = new ArrayList<>();
    if (isLocal(dir)) {
      Path p = Path.of(InputFiles.toHadoopPath(dir).toUri());
      if (!Files.exists(p)) {
        return out;
      }
      if (!Files.isDirectory(p)) {
        throw new IllegalArgumentException("key 'training_args.output_dir': " + dir + " is a file, not a folder");
      }
      try (DirectoryStream<Path> s = Files.newDirectoryStream(p)) {
        s.forEach(e -> out.add(e.getFileName().toString()));
      }
    } else {
      org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(dir);
      FileSystem fs = p.getFileSystem(new InputFiles(hadoop).configuration());
      if (!fs.exists(p)) {
        return out;
      }
      for (FileStatus s : fs.listStatus(p)) {
        out.add(s.getPath().getName());
      }
    }
    out.sort(Comparator.naturalOrder());
    return out;
  }

  private static void delete(String dir, String name, Map<String, String> hadoop) throws IOException {
    if (isLocal(dir)) {
      Path target = Path.of(InputFiles.toHadoopPath(dir).toUri()).resolve(name);
      if (Files.isDirectory(target)) {
        try (Stream<Path> walk = Files.walk(target)) {
          for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
            Files.delete(p);
          }
        }
      } else {
        Files.deleteIfExists(target);
      }
    } else {
      org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(dir, name);
      p.getFileSystem(new InputFiles(hadoop).configuration()).delete(p, true);
    }
  }
}
