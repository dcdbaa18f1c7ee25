package io.sparkformers.training.checkpoint;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;

/**
 * The {@code checkpoint-<step>} folders of one output location: a local path, or any Hadoop FileSystem URI
 * ({@code s3a://}, {@code hdfs://}). A checkpoint is staged in a local folder, given a
 * {@value #CHECKSUMS} manifest (SHA-256 of every file), copied to {@code tmp-checkpoint-<step>} beside the
 * others and renamed into place, so that a reader never sees half a checkpoint under its final name.
 */
public final class CheckpointStore {
  private static final Logger LOG = Logger.getLogger(CheckpointStore.class.getName());
  /** The manifest written last into every checkpoint: {@code <sha256>  <file name>} per line. */
  public static final String CHECKSUMS = "checksums.sha256";
  private static final Pattern NAME = Pattern.compile("checkpoint-(\\d+)");

  /** Writes the files of one checkpoint into a local folder. */
  @FunctionalInterface
  public interface Writer {
    void writeInto(Path folder) throws IOException;
  }

  private final String outputDir;
  private final Path localRoot;
  private Configuration hadoopConf;

  /**
   * @param outputDir a local path or a Hadoop FileSystem URI
   * @param hadoopConf the Hadoop configuration for URIs (credentials, endpoints); may be null for local paths
   */
  public CheckpointStore(String outputDir, Configuration hadoopConf) {
    this.outputDir = outputDir.endsWith("/") ? outputDir.substring(0, outputDir.length() - 1) : outputDir;
    URI uri = URI.create(this.outputDir.replace(" ", "%20"));
    boolean local = uri.getScheme() == null || uri.getScheme().equals("file");
    this.localRoot = local ? (uri.getScheme() == null ? Paths.get(outputDir) : Paths.get(uri)) : null;
    // Made only for a Hadoop URI: a local output folder needs no Hadoop classes (a GPU check carries none).
    this.hadoopConf = hadoopConf;
  }

  private Configuration conf() {
    if (hadoopConf == null) {
      hadoopConf = new Configuration();
    }
    return hadoopConf;
  }

  public String outputDir() {
    return outputDir;
  }

  public boolean isLocal() {
    return localRoot != null;
  }

  /** The location of {@code checkpoint-<step>}. */
  public String location(long step) {
    return outputDir + "/checkpoint-" + step;
  }

  /** Writes {@code checkpoint-<step>} atomically and returns its location. An existing one is replaced. */
  public String save(long step, Writer writer) throws IOException {
    Path staging = Files.createTempDirectory("sparkformers-checkpoint-" + step + "-");
    try {
      writer.writeInto(staging);
      writeChecksums(staging);
      String name = "checkpoint-" + step;
      if (isLocal()) {
        Files.createDirectories(localRoot);
        Path tmp = localRoot.resolve("tmp-" + name);
        deleteLocal(tmp);
        Files.createDirectories(tmp);
        try (DirectoryStream<Path> files = Files.newDirectoryStream(staging)) {
          for (Path f : files) {
            Files.copy(f, tmp.resolve(f.getFileName()));
          }
        }
        Path target = localRoot.resolve(name);
        deleteLocal(target);
        try {
          Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
          Files.move(tmp, target);
        }
      } else {
        org.apache.hadoop.fs.Path root = new org.apache.hadoop.fs.Path(outputDir);
        FileSystem fs = root.getFileSystem(conf());
        org.apache.hadoop.fs.Path tmp = new org.apache.hadoop.fs.Path(root, "tmp-" + name);
        org.apache.hadoop.fs.Path target = new org.apache.hadoop.fs.Path(root, name);
        fs.delete(tmp, true);
        fs.mkdirs(tmp);
        try (DirectoryStream<Path> files = Files.newDirectoryStream(staging)) {
          for (Path f : files) {
            fs.copyFromLocalFile(false, true, new org.apache.hadoop.fs.Path(f.toUri()),
                new org.apache.hadoop.fs.Path(tmp, f.getFileName().toString()));
          }
        }
        fs.delete(target, true);
        if (!fs.rename(tmp, target)) {
          throw new IOException("could not rename " + tmp + " to " + target);
        }
      }
      return location(step);
    } finally {
      deleteLocal(staging);
    }
  }

  /** The steps of the checkpoints present (complete or not), ascending. */
  public List<Long> steps() throws IOException {
    List<Long> steps = new ArrayList<>();
    for (String name : childNames()) {
      Matcher m = NAME.matcher(name);
      if (m.matches()) {
        steps.add(Long.parseLong(m.group(1)));
      }
    }
    steps.sort(Comparator.naturalOrder());
    return steps;
  }

  /**
   * The newest checkpoint whose every file matches its checksum, fetched to a local folder (the folder
   * itself when local). Incomplete or corrupt ones are skipped with a warning naming what is wrong.
   */
  public Optional<Path> newestComplete() throws IOException {
    List<Long> steps = steps();
    for (int i = steps.size() - 1; i >= 0; i--) {
      Optional<Path> p = fetchVerified(steps.get(i));
      if (p.isPresent()) {
        return p;
      }
    }
    return Optional.empty();
  }

  /** {@code checkpoint-<step>} as a verified local folder, or empty (with a warning) when it is not whole. */
  public Optional<Path> fetchVerified(long step) throws IOException {
    Path local;
    if (isLocal()) {
      local = localRoot.resolve("checkpoint-" + step);
    } else {
      local = Files.createTempDirectory("sparkformers-resume-" + step + "-");
      org.apache.hadoop.fs.Path dir = new org.apache.hadoop.fs.Path(location(step));
      FileSystem fs = dir.getFileSystem(conf());
      for (FileStatus st : fs.listStatus(dir)) {
        fs.copyToLocalFile(false, st.getPath(), new org.apache.hadoop.fs.Path(
            local.resolve(st.getPath().getName()).toUri()), true);
      }
    }
    String problem = verify(local);
    if (problem != null) {
      LOG.warning("skipping checkpoint " + location(step) + ": " + problem);
      return Optional.empty();
    }
    return Optional.of(local);
  }

  /**
   * Why the folder is not a whole checkpoint (a missing manifest, a missing file, a checksum mismatch), or
   * null when every file listed matches.
   */
  public static String verify(Path folder) throws IOException {
    Path manifest = folder.resolve(CHECKSUMS);
    if (!Files.isRegularFile(manifest)) {
      return "no " + CHECKSUMS + " (the checkpoint was not finished)";
    }
    Map<String, String> expected = new LinkedHashMap<>();
    int lineNo = 0;
    for (String line : Files.readAllLines(manifest, StandardCharsets.UTF_8)) {
      lineNo++;
      if (line.isBlank()) {
        continue;
      }
      int sep = line.indexOf("  ");
      if (sep != 64) {
        return CHECKSUMS + " line " + lineNo + ": expected '<64 hex digits>  <file>', got '" + line + "'";
      }
      expected.put(line.substring(sep + 2), line.substring(0, sep));
    }
    if (!expected.containsKey("trainer_state.json")) {
      return CHECKSUMS + " does not list trainer_state.json";
    }
    for (Map.Entry<String, String> e : expected.entrySet()) {
      Path f = folder.resolve(e.getKey());
      if (!Files.isRegularFile(f)) {
        return "file " + e.getKey() + " is missing";
      }
      String actual = sha256(f);
      if (!actual.equals(e.getValue())) {
        return "file " + e.getKey() + " has SHA-256 " + actual + ", the manifest says " + e.getValue();
      }
    }
    return null;
  }

  /**
   * Deletes the oldest checkpoints beyond {@code limit}, keeping {@code bestCheckpoint} (a location, or
   * null), with transformers' {@code _rotate_checkpoints} rule: the best is moved just before the newest, and
   * a limit of 1 keeps 2 when the best is not the newest.
   */
  public List<Long> rotate(int limit, String bestCheckpoint) throws IOException {
    List<Long> steps = new ArrayList<>(steps());
    if (limit <= 0 || steps.size() <= limit) {
      return List.of();
    }
    Long best = null;
    if (bestCheckpoint != null) {
      Matcher m = NAME.matcher(bestCheckpoint.substring(bestCheckpoint.lastIndexOf('/') + 1));
      if (m.matches() && steps.contains(Long.parseLong(m.group(1)))) {
        best = Long.parseLong(m.group(1));
        int i = steps.indexOf(best);
        for (; i < steps.size() - 2; i++) {
          steps.set(i, steps.get(i + 1));
          steps.set(i + 1, best);
        }
      }
    }
    int keep = limit;
    if (best != null && keep == 1 && !steps.get(steps.size() - 1).equals(best)) {
      keep = 2;
    }
    List<Long> deleted = new ArrayList<>();
    for (int i = 0; i < Math.max(0, steps.size() - keep); i++) {
      delete(steps.get(i));
      deleted.add(steps.get(i));
    }
    return deleted;
  }

  /** Removes {@code checkpoint-<step>}. */
  public void delete(long step) throws IOException {
    if (isLocal()) {
      deleteLocal(localRoot.resolve("checkpoint-" + step));
    } else {
      org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(location(step));
      p.getFileSystem(conf()).delete(p, true);
    }
  }

  private List<String> childNames() throws IOException {
    List<String> names = new ArrayList<>();
    if (isLocal()) {
      if (!Files.isDirectory(localRoot)) {
        return names;
      }
      try (Stream<Path> s = Files.list(localRoot)) {
        s.filter(Files::isDirectory).forEach(p -> names.add(p.getFileName().toString()));
      }
    } else {
      org.apache.hadoop.fs.Path root = new org.apache.hadoop.fs.Path(outputDir);
      FileSystem fs = root.getFileSystem(conf());
      if (!fs.exists(root)) {
        return names;
      }
      for (FileStatus st : fs.listStatus(root)) {
        if (st.isDirectory()) {
          names.add(st.getPath().getName());
        }
      }
    }
    return names;
  }

  private static void writeChecksums(Path folder) throws IOException {
    StringBuilder sb = new StringBuilder();
    List<Path> files = new ArrayList<>();
    try (Stream<Path> s = Files.list(folder)) {
      s.filter(Files::isRegularFile).sorted().forEach(files::add);
    }
    for (Path f : files) {
      sb.append(sha256(f)).append("  ").append(f.getFileName()).append('\n');
    }
    Files.writeString(folder.resolve(CHECKSUMS), sb.toString(), StandardCharsets.UTF_8);
  }

  /** The SHA-256 of a file, in lowercase hex. */
  public static String sha256(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      byte[] buf = new byte[1 << 16];
      int n;
      while ((n = in.read(buf)) > 0) {
        md.update(buf, 0, n);
      }
      return HexFormat.of().formatHex(md.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  static void deleteLocal(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<Path> s = Files.walk(p)) {
      s.sorted(Comparator.reverseOrder()).forEach(f -> {
        try {
          Files.delete(f);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    }
  }
}
