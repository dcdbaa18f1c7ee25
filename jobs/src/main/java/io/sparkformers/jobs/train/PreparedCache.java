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
import io.sparkformers.training.models.ModelConfig;
import io.sparkformers.training.models.bert.BertConfig;
import io.sparkformers.training.models.mlp.MlpConfig;
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
import scala.Tuple3;

/**
 * Prepared rows cached on storage every executor reaches ({@code data.cache_dir}: a shared folder or any Hadoop
 * URI, {@code s3a://} included): Arrow IPC shards of the train and eval rows in their global order (causal LM
 * blocks, or the rows of tabular_classification, sequence_classification and sft), under
 * {@code prepared/<fingerprint>/} with a {@code manifest.json} (columns, row counts, label names, shards), where
 * the fingerprint covers the input files (path, size, modification time), the tokenizer's files, the task and
 * every setting that changes the rows. The shards are written by Spark tasks into a temporary folder that is
 * renamed into place once the manifest is written, so a reader never sees a half-written cache; a second run
 * with the same inputs and settings reads them without loading or tokenizing anything. Each rank reads only the
 * train shards that hold its rows (datasets' split_dataset_by_node over the global order, so the order does not
 * depend on the world size), memory-mapped where they lie on a local or shared file system, or copied once to
 * its local disk; of the eval shards it reads only the byte ranges of the record batches that hold its
 * evaluation batches.
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

  /**
   * A written cache: where it is and what it holds. {@code blockSize} is set for causal LM blocks only;
   * {@code evalBatchRows} is the number of rows of each record batch of an eval shard (the last one shorter).
   */
  record Stored(String folder, List<Shard> train, List<Shard> eval, long trainRows, long evalRows,
      Features features, List<String> labelNames, Integer blockSize, int evalBatchRows, Map<String, String> hadoop)
      implements Serializable {

    /** What the ranks of this run are told: the rows are read from this cache, not from partitions. */
    RankShards.Manifest manifest(int worldSize, int evalBatchSize) {
      return new RankShards.Manifest(features, trainRows, evalRows, worldSize, evalBatchSize, blockSize != null,
          labelNames, blockSize, this);
    }
  }

  /**
   * The prepared rows of {@code fingerprint} from data.cache_dir: written there first by the Spark jobs of
   * {@code keyed} when no earlier run left them. No rows go with the barrier stage: each rank reads its own.
   */
  static RankShards.Prepared prepare(JobConfig job, String fingerprint, int evalBatchSize,
      java.util.function.Supplier<SparkCausalLm.Keyed> keyed) {
    Stored stored = find(job.cacheDir(), fingerprint, job.hadoop()).orElse(null);
    if (stored == null) {
      SparkCausalLm.Keyed k = keyed.get();
      RankShards.checkRows(k.manifest());
      try {
        stored = write(k.manifest(), k.rows(), job.cacheDir(), fingerprint, job.hadoop());
      } finally {
        k.release().run();
      }
    }
    RankShards.Manifest manifest = stored.manifest(job.worldSize(), evalBatchSize);
    RankShards.checkRows(manifest);
    return new RankShards.Prepared(null, manifest);
  }

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
      return digest(sha, settings);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot fingerprint the data of " + job.source(), e);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String digest(MessageDigest sha, Map<String, Object> settings) throws IOException {
    sha.update(JSON.writeValueAsBytes(settings));
    return HexFormat.of().formatHex(sha.digest()).substring(0, 24);
  }

  /**
   * The fingerprint of a job's prepared rows: the task, the input files, the tokenizer folder's files (chat
   * templates included) and each setting the task's rows depend on, the model's sizes that the rows are checked
   * against among them (a changed model prepares, and checks, again).
   */
  static String fingerprint(JobConfig job, JobConfig.Task task, ModelConfig model) {
    if (task == JobConfig.Task.CAUSAL_LM) {
      return fingerprint(job, (CausalLmConfig) model);
    }
    try {
      Map<String, Object> settings = new TreeMap<>();
      settings.put("version", 1);
      settings.put("task", task.configName());
      settings.put("format", String.valueOf(job.format()));
      settings.put("header", String.valueOf(job.header()));
      settings.put("train", files(job, job.trainFiles()));
      settings.put("eval", files(job, job.evalFiles()));
      if (job.evalFiles().isEmpty()) { // the held-out split
        settings.put("test_size", String.valueOf(job.testSize()));
        settings.put("split_seed", job.splitSeed());
      }
      switch (task) {
        case TABULAR_CLASSIFICATION -> {
          MlpConfig mlp = (MlpConfig) model;
          settings.put("label_column", job.labelColumn());
          settings.put("feature_columns", job.featureColumns());
          settings.put("feature_scale", String.valueOf(job.featureScale()));
          settings.put("input_size", mlp.inputSize());
          settings.put("num_labels", mlp.numLabels());
        }
        case SEQUENCE_CLASSIFICATION -> {
          BertConfig bert = (BertConfig) model;
          settings.put("label_column", job.labelColumn());
          settings.put("text_column", job.textColumn());
          settings.put("max_seq_length", job.maxSeqLength());
          settings.put("vocab_size", bert.vocabSize());
          settings.put("max_position_embeddings", bert.maxPositionEmbeddings());
          settings.put("num_labels", bert.numLabels());
        }
        case SFT -> {
          CausalLmConfig lm = (CausalLmConfig) model;
          settings.put("text_column", job.textColumn());
          settings.put("messages_column", job.messagesColumn());
          settings.put("prompt_column", job.promptColumn());
          settings.put("completion_column", job.completionColumn());
          settings.put("completion_only_loss", job.completionOnlyLoss());
          settings.put("assistant_only_loss", job.assistantOnlyLoss());
          settings.put("max_seq_length", job.maxSeqLength());
          settings.put("vocab_size", lm.vocabSize());
          settings.put("max_positions", lm.maxPositions());
        }
        default -> throw new IllegalStateException(task.configName());
      }
      if (job.tokenizer() != null) {
        java.nio.file.Path folder = Paths.get(job.tokenizer());
        if (Files.isDirectory(folder)) {
          // The tokenizer's files and chat templates; a model folder's weights (data.tokenizer may be the model
          // folder) are left out: they do not change the rows, and hashing gigabytes would slow every run.
          try (java.util.stream.Stream<java.nio.file.Path> all = Files.walk(folder, 2)) {
            for (java.nio.file.Path p : all.filter(Files::isRegularFile)
                .filter(f -> f.getParent().equals(folder) || f.getParent().getFileName().toString()
                    .equals("additional_chat_templates"))
                .filter(f -> !f.getFileName().toString().matches(".*\\.(safetensors|bin|pt|pth|ckpt|gguf|h5)"))
                .sorted().toList()) {
              settings.put("tokenizer/" + folder.relativize(p).toString().replace('\\', '/'), HexFormat.of()
                  .formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p))));
            }
          }
        } else {
          settings.put("tokenizer", job.tokenizer() + " (missing)");
        }
      }
      return digest(MessageDigest.getInstance("SHA-256"), settings);
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
        Features.Builder features = Features.builder();
        root.get("features").fields().forEachRemaining(f -> features.add(f.getKey(),
            ColumnType.valueOf(f.getValue().asText())));
        List<String> labelNames = null;
        if (root.hasNonNull("label_names")) {
          labelNames = new ArrayList<>();
          for (JsonNode n : root.get("label_names")) {
            labelNames.add(n.asText());
          }
        }
        Integer blockSize = root.hasNonNull("block_size") ? root.get("block_size").asInt() : null;
        // Manifests written before eval_batch_rows was recorded hold ShardWriter's default record batches.
        int evalBatchRows = root.hasNonNull("eval_batch_rows") ? root.get("eval_batch_rows").asInt() : 1000;
        return Optional.of(new Stored(folder.toString(), shards(root.get("train")), shards(root.get("eval")),
            root.get("train_rows").asLong(), root.get("eval_rows").asLong(), features.build(), labelNames,
            blockSize, evalBatchRows, Map.copyOf(hadoop)));
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

  /** Sends each keyed row to its shard file: train shards first, then eval shards, rows in order. */
  static final class ShardPartitioner extends Partitioner {
    private static final long serialVersionUID = 1L;
    private final long trainRowsPerShard;
    private final int trainShards;
    private final long evalRowsPerShard;
    private final int evalShards;

    ShardPartitioner(long trainRowsPerShard, int trainShards, long evalRowsPerShard, int evalShards) {
      this.trainRowsPerShard = trainRowsPerShard;
      this.trainShards = trainShards;
      this.evalRowsPerShard = evalRowsPerShard;
      this.evalShards = evalShards;
    }

    @Override
    public int numPartitions() {
      return trainShards + evalShards;
    }

    @Override
    public int getPartition(Object key) {
      long k = (Long) key;
      long row = k & ~RankShards.EVAL;
      return (k & RankShards.EVAL) != 0 ? trainShards + (int) (row / evalRowsPerShard)
          : (int) (row / trainRowsPerShard);
    }
  }

  /** Rows per shard: at most {@link #TARGET_SHARD_BYTES}, and at least {@link #MIN_SHARDS} shards. */
  private static long rowsPerShard(long rows, long rowBytes) {
    return Math.max(1, Math.min(TARGET_SHARD_BYTES / Math.max(1, rowBytes), (rows + MIN_SHARDS - 1) / MIN_SHARDS));
  }

  /** A row's size in an Arrow file, near enough to size the shards: values plus an offset per list. */
  private static long rowBytes(Object[] row) {
    long bytes = 0;
    for (Object v : row) {
      if (v instanceof int[] a) {
        bytes += 4L * a.length + 4;
      } else if (v instanceof float[] a) {
        bytes += 4L * a.length + 4;
      } else if (v instanceof long[] a) {
        bytes += 8L * a.length + 4;
      } else if (v instanceof double[] a) {
        bytes += 8L * a.length + 4;
      } else {
        bytes += 8;
      }
    }
    return bytes;
  }

  /**
   * Writes the prepared rows (keyed as {@link RankShards} keys them) as shards into a temporary folder, the
   * manifest last, and renames the folder into place; when another run got there first, its cache is used.
   * Eval shards hold whole evaluation batches of this run ({@code per_device_eval_batch_size} rows), one per
   * record batch, so that a rank fetches only the record batches of its own evaluation batches.
   */
  static Stored write(RankShards.Manifest m, JavaPairRDD<Long, Object[]> keyed, String cacheDir,
      String fingerprint, Map<String, String> hadoop) {
    boolean causal = m.causalBlocks();
    Features features = causal ? blockFeatures() : m.features();
    // Rows of one split have one width (blocks, padded rows, fixed features): one row sizes the shards.
    long rowBytes = causal ? 3L * 4 * m.blockSize() : rowBytes(keyed.values().first());
    long trainRowsPerShard = rowsPerShard(m.trainRows(), rowBytes);
    int evalBatchRows = m.evalBatchSize();
    long evalRowsPerShard = (rowsPerShard(m.evalRows(), rowBytes) + evalBatchRows - 1) / evalBatchRows
        * evalBatchRows;
    int trainShards = (int) ((m.trainRows() + trainRowsPerShard - 1) / trainRowsPerShard);
    int evalShards = (int) ((m.evalRows() + evalRowsPerShard - 1) / evalRowsPerShard);
    Path target = folder(cacheDir, fingerprint);
    Path temp = new Path(target.getParent(), "." + fingerprint + ".tmp-" + UUID.randomUUID());
    String tempUri = temp.toString();
    Map<String, String> settings = Map.copyOf(hadoop);
    // Task results as tuples of plain values: Kryo (the serializer the shipped spark-defaults.conf sets) cannot
    // create a record such as Shard.
    List<Tuple2<Integer, Tuple3<String, Long, Long>>> written = keyed
        .repartitionAndSortWithinPartitions(new ShardPartitioner(trainRowsPerShard, trainShards, evalRowsPerShard,
            evalShards))
        .mapPartitionsWithIndex((index, it) -> {
          Shard s = writeShard(index, trainShards, it, tempUri, settings, features, causal, evalBatchRows);
          return List.of(new Tuple2<>(index, new Tuple3<>(s.name(), s.rows(), s.bytes()))).iterator();
        }, true).collect();
    List<Shard> train = new ArrayList<>();
    List<Shard> eval = new ArrayList<>();
    for (Tuple2<Integer, Tuple3<String, Long, Long>> w : written) {
      (w._1() < trainShards ? train : eval).add(new Shard(w._2()._1(), w._2()._2(), w._2()._3()));
    }
    try {
      FileSystem fs = target.getFileSystem(conf(hadoop));
      ObjectNode root = JSON.createObjectNode();
      root.put("fingerprint", fingerprint);
      root.put("train_rows", m.trainRows());
      root.put("eval_rows", m.evalRows());
      if (causal) {
        root.put("block_size", m.blockSize());
      }
      root.put("rows_per_shard", trainRowsPerShard);
      root.put("eval_rows_per_shard", evalRowsPerShard);
      root.put("eval_batch_rows", evalBatchRows);
      ObjectNode columns = root.putObject("features");
      features.asMap().forEach((n, t) -> columns.put(n, t.name()));
      if (m.labelNames() != null) {
        ArrayNode names = root.putArray("label_names");
        m.labelNames().forEach(names::add);
      }
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
    return new Stored(target.toString(), train, eval, m.trainRows(), m.evalRows(), features, m.labelNames(),
        causal ? m.blockSize() : null, evalBatchRows, settings);
  }

  /** A task's shard: written to local disk, then copied to the temporary folder on storage. */
  private static Shard writeShard(int index, int trainShards, Iterator<Tuple2<Long, Object[]>> it,
      String tempFolder, Map<String, String> hadoop, Features features, boolean causal, int evalBatchRows)
      throws IOException {
    boolean eval = index >= trainShards;
    String name = eval ? String.format("eval-%05d.arrow", index - trainShards)
        : String.format("train-%05d.arrow", index);
    java.nio.file.Path local = Files.createTempDirectory("sparkformers-shard-");
    try (ShardWriter w = eval ? ShardWriter.create(local, features, evalBatchRows)
        : ShardWriter.create(local, features)) {
      int[] ones = null;
      while (it.hasNext()) {
        Object[] values = it.next()._2();
        if (causal) { // blocks carry input_ids alone: attention_mask is ones, labels a copy, as group_texts makes
          int[] ids = (int[]) values[0];
          if (ones == null || ones.length != ids.length) {
            ones = new int[ids.length];
            java.util.Arrays.fill(ones, 1);
          }
          values = new Object[] {ids, ones, ids};
        }
        w.write(values);
      }
      long rows = w.rows();
      try (Dataset d = w.commit(true)) {
        java.nio.file.Path file = d.files().get(0);
        Path dst = new Path(tempFolder, name);
        dst.getFileSystem(conf(hadoop)).copyFromLocalFile(false, true, new Path(file.toUri()), dst);
        return new Shard(name, rows, Files.size(file));
      }
    } finally {
      Files.deleteIfExists(local);
    }
  }

  /**
   * Opens rank {@code rank}'s train rows (the shards that hold its split_dataset_by_node range, read where they
   * lie on a local file system or from a local copy) and its evaluation batches (only the byte ranges of their
   * record batches). The Spilled's bytes are those the rank read, its eval bytes among them.
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
      try (Dataset all = ArrowFiles.open(trainFolder, mine.stream().map(Shard::name).toList(), s.features(),
          mine.stream().mapToLong(Shard::rows).sum(), localDir);
          Dataset range = all.selectRange(start - first, end - first)) {
        train = range.flattenIndices();
      } catch (IllegalArgumentException e) {
        throw unreadable(s, mine, rank, e);
      }
      long trainBytes = bytes[0];
      Dataset eval = evalBatches(s, rank, worldSize, evalBatchSize, localDir, bytes);
      // The copies are not needed once the rank's rows are flattened into their own local files.
      copies.forEach(p -> p.toFile().delete());
      return new RankShards.Spilled(train, eval, bytes[0], bytes[0] - trainBytes, () -> deleteRecursively(localDir));
    } catch (IOException | RuntimeException e) {
      if (train != null) {
        train.close();
      }
      deleteRecursively(localDir);
      throw e;
    }
  }

  /**
   * Rank {@code rank}'s evaluation batches (batches rank, rank + world_size, ... of {@code evalBatchSize} rows, as
   * {@link RankShards} deals them) in row order, flattened into a local file. Of each eval shard that holds some
   * of them only the footer and the record batches holding them are read, by byte range, so a rank reads about
   * 1/world_size of the eval shards (exactly its batches when the cache was written with this batch size).
   */
  private static Dataset evalBatches(Stored s, int rank, int worldSize, int evalBatchSize,
      java.nio.file.Path localDir, long[] bytes) throws IOException {
    java.nio.file.Path folder = Files.createDirectories(localDir.resolve("eval-batches"));
    java.nio.file.Path part = folder.resolve("eval-part.arrow");
    Path shardFolder = new Path(s.folder());
    FileSystem fs = shardFolder.getFileSystem(conf(s.hadoop()));
    long step = (long) evalBatchSize * worldSize;
    List<Long> mine = new ArrayList<>(); // indices into the part file
    long partRows = 0;
    try (org.apache.arrow.memory.BufferAllocator allocator = new org.apache.arrow.memory.RootAllocator();
        org.apache.arrow.vector.VectorSchemaRoot out = org.apache.arrow.vector.VectorSchemaRoot.create(
            s.features().toArrow(), allocator);
        java.nio.channels.FileChannel channel = java.nio.channels.FileChannel.open(part,
            java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.WRITE);
        org.apache.arrow.vector.ipc.ArrowFileWriter writer = new org.apache.arrow.vector.ipc.ArrowFileWriter(out,
            null, channel)) {
      writer.start();
      long first = 0;
      for (Shard shard : s.eval()) {
        long batches = (shard.rows() + s.evalBatchRows() - 1) / s.evalBatchRows();
        List<Integer> wanted = new ArrayList<>();
        for (int b = 0; b < batches; b++) {
          long from = first + (long) b * s.evalBatchRows();
          long to = Math.min(first + shard.rows(), from + s.evalBatchRows());
          if (holdsMine(from, to, rank, evalBatchSize, step)) {
            wanted.add(b);
          }
        }
        if (!wanted.isEmpty()) {
          Path p = new Path(shardFolder, shard.name());
          checked(fs, shardFolder, p, shard, rank);
          try (RangedChannel in = RangedChannel.open(fs, p, shard.bytes());
              org.apache.arrow.vector.ipc.ArrowFileReader reader = new org.apache.arrow.vector.ipc.ArrowFileReader(
                  new org.apache.arrow.vector.ipc.SeekableReadChannel(in), allocator)) {
            List<org.apache.arrow.vector.ipc.message.ArrowBlock> blocks = reader.getRecordBlocks();
            if (blocks.size() != batches) {
              throw new IllegalArgumentException(blocks.size() + " record batches, the manifest's " + shard.rows()
                  + " rows in batches of " + s.evalBatchRows() + " make " + batches);
            }
            for (int b : wanted) {
              reader.loadRecordBatch(blocks.get(b));
              org.apache.arrow.vector.VectorSchemaRoot batch = reader.getVectorSchemaRoot();
              long from = first + (long) b * s.evalBatchRows();
              if (batch.getRowCount() != Math.min(s.evalBatchRows(), shard.rows() - (long) b * s.evalBatchRows())) {
                throw new IllegalArgumentException("record batch " + b + " holds " + batch.getRowCount() + " rows");
              }
              try (org.apache.arrow.vector.ipc.message.ArrowRecordBatch copy =
                  new org.apache.arrow.vector.VectorUnloader(batch).getRecordBatch()) {
                new org.apache.arrow.vector.VectorLoader(out).load(copy);
              }
              writer.writeBatch();
              for (long r = from; r < from + batch.getRowCount(); r++) {
                if ((r / evalBatchSize) % worldSize == rank) {
                  mine.add(partRows + r - from);
                }
              }
              partRows += batch.getRowCount();
            }
            bytes[0] += in.bytesRead();
          } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("rank " + rank + ": cannot read the prepared shard " + p + ": "
                + e.getMessage(), e);
          }
        }
        first += shard.rows();
      }
      writer.end();
    }
    if (partRows == 0) { // fewer evaluation batches than ranks: this one evaluates nothing
      Files.delete(part);
      try (io.sparkformers.datasets.ShardWriter empty = io.sparkformers.datasets.ShardWriter.create(
          folder.resolve("empty"), s.features())) {
        return empty.commit(true);
      }
    }
    try (Dataset all = ArrowFiles.open(folder, List.of(part.getFileName().toString()), s.features(), partRows,
        localDir);
        Dataset batches = all.select(mine.stream().mapToLong(Long::longValue).toArray())) {
      return batches.flattenIndices();
    } finally {
      Files.deleteIfExists(part);
    }
  }

  /** Whether rows [from, to) hold a row of one of rank {@code rank}'s evaluation batches. */
  private static boolean holdsMine(long from, long to, int rank, int evalBatchSize, long step) {
    for (long batch = from / evalBatchSize; batch * evalBatchSize < to; batch++) {
      if (batch % (step / evalBatchSize) == rank) {
        return true;
      }
    }
    return false;
  }

  /**
   * A shard file read by byte range (positioned reads: a ranged GET on {@code s3a://}), counting the bytes it
   * returns.
   */
  private static final class RangedChannel implements java.nio.channels.SeekableByteChannel {
    private final org.apache.hadoop.fs.FSDataInputStream in;
    private final long size;
    private long position;
    private long bytesRead;

    private RangedChannel(org.apache.hadoop.fs.FSDataInputStream in, long size) {
      this.in = in;
      this.size = size;
    }

    static RangedChannel open(FileSystem fs, Path p, long size) throws IOException {
      return new RangedChannel(fs.open(p), size);
    }

    long bytesRead() {
      return bytesRead;
    }

    @Override
    public int read(java.nio.ByteBuffer dst) throws IOException {
      int n = (int) Math.min(dst.remaining(), size - position);
      if (n <= 0) {
        return dst.hasRemaining() ? -1 : 0;
      }
      byte[] chunk = new byte[n];
      in.readFully(position, chunk, 0, n);
      dst.put(chunk);
      position += n;
      bytesRead += n;
      return n;
    }

    @Override
    public int write(java.nio.ByteBuffer src) {
      throw new UnsupportedOperationException("read only");
    }

    @Override
    public long position() {
      return position;
    }

    @Override
    public java.nio.channels.SeekableByteChannel position(long newPosition) {
      position = newPosition;
      return this;
    }

    @Override
    public long size() {
      return size;
    }

    @Override
    public java.nio.channels.SeekableByteChannel truncate(long size) {
      throw new UnsupportedOperationException("read only");
    }

    @Override
    public boolean isOpen() {
      return true;
    }

    @Override
    public void close() throws IOException {
      in.close();
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
      FileStatus st = checked(fs, folder, p, shard, rank);
      bytes[0] += st.getLen();
      if (!isLocal) {
        java.nio.file.Path copy = localDir.resolve(shard.name());
        fs.copyToLocalFile(false, p, new Path(copy.toUri()), true);
        copies.add(copy);
      }
    }
    return isLocal ? Paths.get(folder.toUri()) : localDir;
  }

  /** The shard's status: it exists with the size the manifest gives, else an error naming it and the rank. */
  private static FileStatus checked(FileSystem fs, Path folder, Path p, Shard shard, int rank) throws IOException {
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
    return st;
  }

  private static void deleteRecursively(java.nio.file.Path dir) {
    try (java.util.stream.Stream<java.nio.file.Path> all = Files.walk(dir)) {
      all.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // gone already, or left to the task's folder
    }
  }
}
