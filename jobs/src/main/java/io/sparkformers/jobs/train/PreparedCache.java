package io.sparkformers.jobs.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sparkformers.datasets.ArrowFiles;
import io.sparkformers.datasets.ColumnType;
import io.sparkformers.datasets.Dataset;
import io.sparkformers.datasets.Features;
import io.sparkformers.datasets.ShardWriter;
import io.sparkformers.training.models.CausalLmConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;
import org.apache.spark.Partitioner;
import org.apache.spark.api.java.JavaPairRDD;
import scala.Tuple2;

/**
 * Prepared causal LM blocks cached on storage every executor reaches ({@code data.cache_dir}: a shared folder
 * or any Hadoop URI, {@code s3a://} included): Arrow IPC shards of the train and eval blocks in their global
 * order, under {@code prepared/<fingerprint>/} with a {@code manifest.json}, where the fingerprint covers the
 * input files (path, size, modification time), the tokenizer's files and every setting that changes the
 * blocks. The shards are written by Spark tasks into a temporary folder that is renamed into place once the
 * manifest is written, so a reader never sees a half-written cache; a second run with the same inputs and
 * settings reads them without loading or tokenizing anything. Each rank reads only the shards that hold its
 * rows (datasets' split_dataset_by_node over the global order, so the order does not depend on the world size),
 * memory-mapped where they lie on a local or shared file system, or copied once to its local disk.
 */
final class PreparedCache {
  static final String MANIFEST = "manifest.json";
  /**
   * Shards of at most 64 MiB, and at least 16 of them for a smaller split: fixed by the data alone (never by the
   * world size, so the shards and the order stay the same), and small enough that a rank reads little more
   * than its own rows.
   */
  static final long TARGET_SHARD_BYTES = 64L << 20;
  static final int MIN_SHARDS = 16;
  private static final ObjectMapper JSON = new ObjectMapper();

  private PreparedCache() {}

  /** One shard file: its name in the folder, rows and bytes. */
  record Shard(String name, long rows, long bytes) implements Serializable {}

  /** A written cache: where it is and what it holds. */
  record Stored(String folder, List<Shard> train, List<Shard> eval, long trainRows, long evalRows, int blockSize,
      Map<String, String> hadoop) implements Serializable {}

  static Features blockFeatures() {
    return Features.builder().add("input_ids", ColumnType.INT32_LIST).add("attention_mask", ColumnType.INT32_LIST)
        .add("labels", ColumnType.INT32_LIST).build();
  }

  static Configuration conf(Map<String, String> hadoop) {
    Configuration conf = new Configuration();
    hadoop.forEach(conf::set);
    return conf;
  }

  /** A location as a Hadoop path: local paths made absolute, URIs as they are. */
  static Path hadoopPath(String location) {
    URI uri = URI.create(location.replace(" ", "%20"));
    if (uri.getScheme() == null || uri.getScheme().length() == 1) {
      return new Path(Paths.get(location).toAbsolutePath().toUri());
    }
    return new Path(location);
  }

  /** Whether the cache folder is a Hadoop URI rather than a local path. */
  static boolean isUri(String cacheDir) {
    URI uri = URI.create(cacheDir.replace(" ", "%20"));
    return uri.getScheme() != null && uri.getScheme().length() > 1 && !uri.getScheme().equals("file");
  }

  /** The fingerprint of a causal LM job's prepared blocks. */
  static String fingerprint(JobConfig job, CausalLmConfig model) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      Map<String, Object> settings = new TreeMap<>();
      settings.put("version", 1);
      settings.put("format", String.valueOf(job.format()));
      settings.put("header", String.valueOf(job.header()));
      settings.put("text_column", job.textColumn());
      settings.put("block_size", String.valueOf(job.blockSize()));
      settings.put("validation_split_percentage", job.validationSplitPercentage());
      settings.put("vocab_size", model.vocabSize());
      settings.put("max_positions", model.maxPositions());
      settings.put("train", files(job, job.trainFiles()));
      settings.put("eval", files(job, job.evalFiles()));
      if (job.tokenizer() != null) {
        for (String f : List.of("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")) {
          java.nio.file.Path p = Paths.get(job.tokenizer()).resolve(f);
          if (Files.isRegularFile(p)) {
            settings.put("tokenizer/" + f, HexFormat.of().formatHex(
                MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p))));
          }
        }
      }
      sha.update(JSON.writeValueAsBytes(settings));
      return HexFormat.of().formatHex(sha.digest()).substring(0, 24);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot fingerprint the data of " + job.source(), e);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Every file behind the locations: path, size and modification time. */
  private static List<String> files(JobConfig job, List<String> locations) throws IOException {
    Configuration conf = conf(job.hadoop());
    List<String> out = new ArrayList<>();
    for (String l : locations) {
      String location = l.startsWith("classpath:") ? JobData.fromClasspath(l).toString() : l;
      Path p = hadoopPath(location);
      FileSystem fs = p.getFileSystem(conf);
      FileStatus[] matched = fs.globStatus(p);
      if (matched == null) {
        out.add(location + " (missing)");
        continue;
      }
      for (FileStatus s : matched) {
        if (s.isDirectory()) {
          RemoteIterator<LocatedFileStatus> it = fs.listFiles(s.getPath(), true);
          while (it.hasNext()) {
            LocatedFileStatus f = it.next();
            out.add(f.getPath() + " " + f.getLen() + " " + f.getModificationTime());
          }
        } else {
          out.add(s.getPath() + " " + s.getLen() + " " + s.getModificationTime());
        }
      }
    }
    out.sort(null);
    return out;
  }

  static Path folder(String cacheDir, String fingerprint) {
    return new Path(hadoopPath(cacheDir), "prepared/" + fingerprint);
  }

  /** The cache written by an earlier run with the same fingerprint, if there is one. */
  static Optional<Stored> find(String cacheDir, String fingerprint, Map<String, String> hadoop) {
    Path folder = folder(cacheDir, fingerprint);
    Path manifest = new Path(folder, MANIFEST);
    try {
      FileSystem fs = folder.getFileSystem(conf(hadoop));
      if (!fs.exists(manifest)) {
        return Optional.empty();
      }
      try (InputStream in = fs.open(manifest)) {
        JsonNode root = JSON.readTree(in);
        return Optional.of(new Stored(folder.toString(), shards(root.get("train")), shards(root.get("eval")),
            root.get("train_rows").asLong(), root.get("eval_rows").asLong(), root.get("block_size").asInt(),
            Map.copyOf(hadoop)));
      }
    } catch (IOException | RuntimeException e) {
      throw new IllegalArgumentException("data.cache_dir: cannot read " + manifest + ": " + e.getMessage(), e);
    }
  }

  private static List<Shard> shards(JsonNode array) {
    List<Shard> out = new ArrayList<>();
    array.forEach(n -> out.add(new Shard(n.get("name").asText(), n.get("rows").asLong(), n.get("bytes").asLong())));
    return out;
  }

  /** Sends each keyed block to its shard file: train shards first, then eval shards, rows in order. */
  static final class ShardPartitioner extends Partitioner {
    private static final long serialVersionUID = 1L;
    private final long rowsPerShard;
    private final int trainShards;
    private final int evalShards;

    ShardPartitioner(long rowsPerShard, int trainShards, int evalShards) {
      this.rowsPerShard = rowsPerShard;
      this.trainShards = trainShards;
      this.evalShards = evalShards;
    }

    @Override
    public int numPartitions() {
      return trainShards + evalShards;
    }

    @Override
    public int getPartition(Object key) {
      long k = (Long) key;
      boolean eval = (k & RankShards.EVAL) != 0;
      int shard = (int) ((k & ~RankShards.EVAL) / rowsPerShard);
      return eval ? trainShards + shard : shard;
    }
  }

  /**
   * Writes the prepared blocks (keyed as {@link RankShards} keys them) as shards into a temporary folder, the
   * manifest last, and renames the folder into place; when another run got there first, its cache is used.
   */
  static Stored write(RankShards.Manifest m, JavaPairRDD<Long, Object[]> keyed, String cacheDir,
      String fingerprint, Map<String, String> hadoop) {
    long rowBytes = 3L * 4 * m.blockSize();
    long rowsPerShard = Math.max(1, Math.min(TARGET_SHARD_BYTES / rowBytes,
        (m.trainRows() + MIN_SHARDS - 1) / MIN_SHARDS));
    int trainShards = (int) ((m.trainRows() + rowsPerShard - 1) / rowsPerShard);
    int evalShards = (int) ((m.evalRows() + rowsPerShard - 1) / rowsPerShard);
    Path target = folder(cacheDir, fingerprint);
    Path temp = new Path(target.getParent(), "." + fingerprint + ".tmp-" + UUID.randomUUID());
    String tempUri = temp.toString();
    Map<String, String> settings = Map.copyOf(hadoop);
    List<Tuple2<Integer, Shard>> written = keyed
        .repartitionAndSortWithinPartitions(new ShardPartitioner(rowsPerShard, trainShards, evalShards))
        .mapPartitionsWithIndex((index, it) -> List.of(writeShard(index, trainShards, it, tempUri, settings))
            .iterator(), true).collect();
    List<Shard> train = new ArrayList<>();
    List<Shard> eval = new ArrayList<>();
    for (Tuple2<Integer, Shard> w : written) {
      (w._1() < trainShards ? train : eval).add(w._2());
    }
    try {
      FileSystem fs = target.getFileSystem(conf(hadoop));
      ObjectNode root = JSON.createObjectNode();
      root.put("fingerprint", fingerprint);
      root.put("train_rows", m.trainRows());
      root.put("eval_rows", m.evalRows());
      root.put("block_size", m.blockSize());
      root.put("rows_per_shard", rowsPerShard);
      ObjectNode features = root.putObject("features");
      blockFeatures().asMap().forEach((n, t) -> features.put(n, t.name()));
      for (String split : List.of("train", "eval")) {
        ArrayNode files = root.putArray(split);
        for (Shard s : split.equals("train") ? train : eval) {
          files.addObject().put("name", s.name()).put("rows", s.rows()).put("bytes", s.bytes());
        }
      }
      try (OutputStream out = fs.create(new Path(temp, MANIFEST), false)) {
        out.write(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root).getBytes(StandardCharsets.UTF_8));
      }
      if (!fs.rename(temp, target)) {
        fs.delete(temp, true);
        if (!fs.exists(new Path(target, MANIFEST))) {
          throw new IOException("cannot rename " + temp + " to " + target);
        }
        return find(cacheDir, fingerprint, hadoop).orElseThrow(); // another run wrote it first
      }
    } catch (IOException e) {
      throw new UncheckedIOException("data.cache_dir: cannot write the prepared shards to " + target, e);
    }
    return new Stored(target.toString(), train, eval, m.trainRows(), m.evalRows(), m.blockSize(), settings);
  }

  /** A task's shard: written to local disk, then copied to the temporary folder on storage. */
  private static Tuple2<Integer, Shard> writeShard(int index, int trainShards, Iterator<Tuple2<Long, Object[]>> it,
      String tempFolder, Map<String, String> hadoop) throws IOException {
    String name = index < trainShards ? String.format("train-%05d.arrow", index)
        : String.format("eval-%05d.arrow", index - trainShards);
    java.nio.file.Path local = Files.createTempDirectory("sparkformers-shard-");
    try (ShardWriter w = ShardWriter.create(local, blockFeatures())) {
      int[] ones = null;
      while (it.hasNext()) {
        int[] ids = (int[]) it.next()._2()[0];
        if (ones == null || ones.length != ids.length) {
          ones = new int[ids.length];
          java.util.Arrays.fill(ones, 1);
        }
        w.write(new Object[] {ids, ones, ids});
      }
      long rows = w.rows();
      try (Dataset d = w.commit(true)) {
        java.nio.file.Path file = d.files().get(0);
        Path dst = new Path(tempFolder, name);
        dst.getFileSystem(conf(hadoop)).copyFromLocalFile(false, true, new Path(file.toUri()), dst);
        return new Tuple2<>(index, new Shard(name, rows, Files.size(file)));
      }
    } finally {
      Files.deleteIfExists(local);
    }
  }

  /**
   * Opens rank {@code rank}'s train rows (the shards that hold its split_dataset_by_node range) and its
   * evaluation batches, reading them where they lie on a local file system or from a local copy.
   */
  static RankShards.Spilled open(Stored s, int rank, int worldSize, int evalBatchSize,
      java.nio.file.Path localRoot) throws IOException {
    Files.createDirectories(localRoot);
    java.nio.file.Path localDir = Files.createTempDirectory(localRoot, "sparkformers-rank" + rank + "-");
    long start = RankShards.shardStart(s.trainRows(), worldSize, rank);
    long end = RankShards.shardEnd(s.trainRows(), worldSize, rank);
    List<Shard> mine = new ArrayList<>();
    long first = -1;
    long at = 0;
    for (Shard shard : s.train()) {
      if (at < end && at + shard.rows() > start) {
        mine.add(shard);
        first = first < 0 ? at : first;
      }
      at += shard.rows();
    }
    List<java.nio.file.Path> copies = new ArrayList<>();
    Dataset train = null;
    try {
      long[] bytes = {0};
      java.nio.file.Path trainFolder = local(s, mine, rank, localDir, copies, bytes);
      try (Dataset all = ArrowFiles.open(trainFolder, mine.stream().map(Shard::name).toList(), blockFeatures(),
          mine.stream().mapToLong(Shard::rows).sum(), localDir);
          Dataset range = all.selectRange(start - first, end - first)) {
        train = range.flattenIndices();
      } catch (IllegalArgumentException e) {
        throw unreadable(s, mine, rank, e);
      }
      java.nio.file.Path evalFolder = local(s, s.eval(), rank, localDir, copies, bytes);
      List<Long> rows = new ArrayList<>();
      for (long i = rank * (long) evalBatchSize; i < s.evalRows(); i += (long) evalBatchSize * worldSize) {
        for (long r = i; r < Math.min(s.evalRows(), i + evalBatchSize); r++) {
          rows.add(r);
        }
      }
      Dataset eval;
      try (Dataset all = ArrowFiles.open(evalFolder, s.eval().stream().map(Shard::name).toList(), blockFeatures(),
          s.evalRows(), localDir);
          Dataset batches = all.select(rows.stream().mapToLong(Long::longValue).toArray())) {
        eval = batches.flattenIndices();
      } catch (IllegalArgumentException e) {
        throw unreadable(s, s.eval(), rank, e);
      }
      // The copies are not needed once the rank's rows are flattened into their own local files.
      copies.forEach(p -> p.toFile().delete());
      return new RankShards.Spilled(train, eval, bytes[0], () -> deleteRecursively(localDir));
    } catch (IOException | RuntimeException e) {
      if (train != null) {
        train.close();
      }
      deleteRecursively(localDir);
      throw e;
    }
  }

  private static IllegalArgumentException unreadable(Stored s, List<Shard> shards, int rank,
      IllegalArgumentException e) {
    return new IllegalArgumentException("rank " + rank + ": cannot read the prepared shard(s) "
        + shards.stream().map(Shard::name).toList() + " in " + s.folder() + ": " + e.getMessage(), e);
  }

  /**
   * The local folder holding {@code shards}: the cache folder itself on a local file system, else a copy of
   * each shard in {@code localDir}. Each shard must exist with the size the manifest gives.
   */
  private static java.nio.file.Path local(Stored s, List<Shard> shards, int rank, java.nio.file.Path localDir,
      List<java.nio.file.Path> copies, long[] bytes) throws IOException {
    Path folder = new Path(s.folder());
    FileSystem fs = folder.getFileSystem(conf(s.hadoop()));
    boolean isLocal = fs.getScheme().equals("file");
    for (Shard shard : shards) {
      Path p = new Path(folder, shard.name());
      FileStatus st;
      try {
        st = fs.getFileStatus(p);
      } catch (java.io.FileNotFoundException e) {
        throw new IllegalArgumentException("rank " + rank + ": the prepared shard " + p + " is missing (listed in "
            + new Path(folder, MANIFEST) + ")");
      }
      if (st.getLen() != shard.bytes()) {
        throw new IllegalArgumentException("rank " + rank + ": the prepared shard " + p + " is truncated or"
            + " altered: " + st.getLen() + " bytes, the manifest says " + shard.bytes());
      }
      bytes[0] += st.getLen();
      if (!isLocal) {
        java.nio.file.Path copy = localDir.resolve(shard.name());
        fs.copyToLocalFile(false, p, new Path(copy.toUri()), true);
        copies.add(copy);
      }
    }
    return isLocal ? Paths.get(folder.toUri()) : localDir;
  }

  private static void deleteRecursively(java.nio.file.Path dir) {
    try (java.util.stream.Stream<java.nio.file.Path> all = Files.walk(dir)) {
      all.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // gone already, or left to the task's folder
    }
  }
}
