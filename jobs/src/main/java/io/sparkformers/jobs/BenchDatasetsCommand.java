package io.sparkformers.jobs;

import io.sparkformers.datasets.AutoTokenizer;
import io.sparkformers.datasets.ColumnType;
import io.sparkformers.datasets.DataFormat;
import io.sparkformers.datasets.Dataset;
import io.sparkformers.datasets.DatasetDict;
import io.sparkformers.datasets.DatasetLoader;
import io.sparkformers.datasets.DatasetWriter;
import io.sparkformers.datasets.Features;
import io.sparkformers.datasets.IterableDataset;
import io.sparkformers.datasets.LoadOptions;
import io.sparkformers.datasets.RecordBatch;
import io.sparkformers.datasets.SparkDataset;
import io.sparkformers.datasets.Tokenizer;
import io.sparkformers.datasets.TokenizerTrainer;
import io.sparkformers.datasets.TrainTestSplit;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.IntBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code sparkformers bench datasets}: (1) summing every token id of a ≥1 GB memory-mapped Arrow dataset
 * (list&lt;int32&gt;) against a plain {@code int[]} sum of the same ids, GB/s and their ratio; (2) tokenization
 * throughput on one thread and on Spark; (3) the time to the first batch when streaming a 1 GB JSON-lines
 * file; (4) loading JSON-lines files on Spark and splitting them (train_test_split), the rows kept on the
 * executors ({@link SparkDataset}) against the Arrow-cache loader. The data is generated into a temporary
 * folder and deleted afterwards.
 */
@Command(name = "datasets", mixinStandardHelpOptions = true, showDefaultValues = true,
    description = "Benchmark Arrow iteration, tokenization and streaming of the datasets module.")
public final class BenchDatasetsCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--gb", defaultValue = "1.0", description = "size of the token-id dataset and the JSON-lines file")
  double gb;

  @Option(names = "--seq-len", defaultValue = "512", description = "token ids per row")
  int seqLen;

  @Option(names = "--repeats", defaultValue = "5", description = "timed repeats after one warm-up; median reported")
  int repeats;

  @Option(names = "--texts", defaultValue = "100000", description = "texts to tokenize")
  int texts;

  @Option(names = "--tokenizer", description = "a folder with tokenizer.json (default: one trained here on --text-dir)")
  Path tokenizerFolder;

  @Option(names = "--text-dir", defaultValue = "/usr/share/common-licenses", description = "folder of English text")
  Path textDir;

  @Option(names = "--spark", defaultValue = "local[2]", description = "Spark master for tokenization; 'none' skips")
  String spark;

  @Option(names = "--dir", description = "work folder (default: a new temporary folder, deleted afterwards)")
  Path dir;

  @Option(names = "--load-files", defaultValue = "4", description = "JSON-lines files the load part writes (--gb in all)")
  int loadFiles;

  @Option(names = "--range-mb", description = "LoadOptions.rangeBytes in MiB for the load part (default: the"
      + " options' default; a size above every file reads each file with one task)")
  Double rangeMb;

  @Option(names = "--skip", split = ",", description = "parts to skip: sum, tokenize, stream, load")
  List<String> skip = List.of();

  private PrintWriter out;

  @Override
  public Integer call() throws Exception {
    out = spec.commandLine().getOut();
    boolean temporary = dir == null;
    Path work = temporary ? Files.createTempDirectory("sparkformers-bench-datasets-") : dir;
    try {
      if (!skip.contains("sum")) {
        benchSum(work);
      }
      if (!skip.contains("tokenize")) {
        benchTokenize(work);
      }
      if (!skip.contains("stream")) {
        benchStream(work);
      }
      if (!skip.contains("load") && !spark.equals("none")) {
        benchLoad(work);
      }
    } finally {
      if (temporary) {
        try (Stream<Path> walk = Files.walk(work)) {
          for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
            Files.deleteIfExists(p);
          }
        }
      }
    }
    return 0;
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }

  private void benchSum(Path work) {
    long rows = (long) Math.ceil(gb * (1L << 30) / (seqLen * 4.0));
    long total = rows * seqLen;
    if (total > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("--gb too large for the int[] baseline");
    }
    out.printf("ids: %d rows x %d token ids = %d ids (%.2f GB)%n", rows, seqLen, total, total * 4 / 1e9);
    out.flush();
    int[] ids = new int[(int) total];
    long x = 12345;
    for (int i = 0; i < ids.length; i++) {
      x = x * 6364136223846793005L + 1442695040888963407L;
      ids[i] = (int) ((x >>> 33) % 50257);
    }
    Path folder = work.resolve("ids");
    long t0 = System.nanoTime();
    try (DatasetWriter w = new DatasetWriter(folder, Features.of("input_ids", ColumnType.INT32_LIST))) {
      for (long r = 0; r < rows; r++) {
        w.write((Object) Arrays.copyOfRange(ids, (int) (r * seqLen), (int) ((r + 1) * seqLen)));
      }
      w.finish();
    }
    out.printf("wrote the Arrow dataset in %.1f s%n", (System.nanoTime() - t0) / 1e9);
    double bytes = total * 4.0;
    double[] arrow = new double[repeats];
    double[] bulk = new double[repeats];
    double[] plain = new double[repeats];
    try (Dataset d = Dataset.loadFromDisk(folder)) {
      List<RecordBatch> batches = d.recordBatches();
      long expected = plainSum(ids);
      for (int rep = -1; rep < repeats; rep++) {
        long s0 = System.nanoTime();
        long sum = arrowSum(batches);
        long s1 = System.nanoTime();
        long check = plainSum(ids);
        long s2 = System.nanoTime();
        long chunked = arrowChunkedSum(batches);
        long s3 = System.nanoTime();
        if (sum != expected || check != expected || chunked != expected) {
          throw new IllegalStateException("sums differ: arrow " + sum + ", chunked " + chunked + ", int[] " + check
              + ", expected " + expected);
        }
        if (rep >= 0) {
          arrow[rep] = bytes / ((s1 - s0) / 1e9) / 1e9;
          plain[rep] = bytes / ((s2 - s1) / 1e9) / 1e9;
          bulk[rep] = bytes / ((s3 - s2) / 1e9) / 1e9;
        }
      }
      out.printf("sum of token ids: int[] %.2f GB/s; memory-mapped Arrow, IntBuffer.get(i) per id %.2f GB/s (ratio"
          + " %.2f), IntBuffer.get(int[4096]) chunks %.2f GB/s (ratio %.2f) (median of %d; %d record batches; sum"
          + " %d)%n", median(plain), median(arrow), median(arrow) / median(plain), median(bulk),
          median(bulk) / median(plain), repeats, batches.size(), expected);
    }
    out.flush();
  }

  private static long arrowSum(List<RecordBatch> batches) {
    long sum = 0;
    for (RecordBatch b : batches) {
      IntBuffer v = b.int32ListValues("input_ids");
      int n = v.limit();
      for (int i = 0; i < n; i++) {
        sum += v.get(i);
      }
    }
    return sum;
  }

  /** Reads the mapped ids in L1-sized chunks (a memcpy each), then sums them as the int[] loop does. */
  private static long arrowChunkedSum(List<RecordBatch> batches) {
    int[] chunk = new int[4096];
    long sum = 0;
    for (RecordBatch b : batches) {
      IntBuffer v = b.int32ListValues("input_ids");
      while (v.hasRemaining()) {
        int n = Math.min(chunk.length, v.remaining());
        v.get(chunk, 0, n);
        for (int i = 0; i < n; i++) {
          sum += chunk[i];
        }
      }
    }
    return sum;
  }

  private static long plainSum(int[] ids) {
    long sum = 0;
    for (int id : ids) {
      sum += id;
    }
    return sum;
  }

  private List<String> englishLines() throws IOException {
    List<String> lines = new ArrayList<>();
    try (Stream<Path> files = Files.list(textDir)) {
      for (Path f : files.sorted().toList()) {
        if (!Files.isRegularFile(f)) {
          continue;
        }
        for (String line : new String(Files.readAllBytes(f), StandardCharsets.UTF_8).split("\n")) {
          if (line.trim().length() > 20) {
            lines.add(line.trim());
          }
        }
      }
    }
    if (lines.isEmpty()) {
      throw new IllegalArgumentException("No text in " + textDir + "; give --text-dir");
    }
    return lines;
  }

  private void benchTokenize(Path work) throws IOException {
    List<String> lines = englishLines();
    Path folder = tokenizerFolder;
    if (folder == null) {
      folder = work.resolve("tokenizer");
      long t0 = System.nanoTime();
      TokenizerTrainer.byteLevelBpe().vocabSize(8000).build().train(lines, folder);
      out.printf("trained a byte-level BPE tokenizer (8000 tokens) on %d lines in %.1f s%n", lines.size(),
          (System.nanoTime() - t0) / 1e9);
    }
    List<String> sample = new ArrayList<>(texts);
    long bytes = 0;
    for (int i = 0; i < texts; i++) {
      String s = lines.get(i % lines.size());
      sample.add(s);
      bytes += s.getBytes(StandardCharsets.UTF_8).length;
    }
    try (Tokenizer t = AutoTokenizer.fromPretrained(folder)) {
      double[] secs = new double[repeats];
      long tokens = 0;
      for (int rep = -1; rep < repeats; rep++) {
        long t0 = System.nanoTime();
        tokens = 0;
        for (int s = 0; s < sample.size(); s += 1000) {
          for (Tokenizer.Encoded e : t.encodeBatch(sample.subList(s, Math.min(sample.size(), s + 1000)), 0, true)) {
            tokens += e.inputIds().length;
          }
        }
        if (rep >= 0) {
          secs[rep] = (System.nanoTime() - t0) / 1e9;
        }
      }
      double m = median(secs);
      out.printf("tokenize, one thread: %.0f examples/s, %.1f MB/s, %.0f tokens/s (%d texts, %.1f MB, median of %d)%n",
          texts / m, bytes / m / 1e6, tokens / m, texts, bytes / 1e6, repeats);
    }
    if (!spark.equals("none")) {
      SparkSession session = SparkSession.builder().master(spark).appName("bench-datasets")
          .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
          .config("spark.driver.bindAddress", "127.0.0.1").getOrCreate();
      try {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(session.sparkContext());
        int parallelism = jsc.defaultParallelism();
        JavaRDD<String> rdd = jsc.parallelize(sample, parallelism).cache();
        rdd.count();
        String tokPath = folder.toAbsolutePath().toString();
        double[] secs = new double[repeats];
        for (int rep = -1; rep < repeats; rep++) {
          long t0 = System.nanoTime();
          long tokens = rdd.mapPartitions((Iterator<String> it) -> {
            List<String> part = new ArrayList<>();
            it.forEachRemaining(part::add);
            long n = 0;
            try (Tokenizer t = AutoTokenizer.fromPretrained(Path.of(tokPath))) {
              for (int s = 0; s < part.size(); s += 1000) {
                for (Tokenizer.Encoded e : t.encodeBatch(part.subList(s, Math.min(part.size(), s + 1000)), 0, true)) {
                  n += e.inputIds().length;
                }
              }
            }
            return List.of(n).iterator();
          }).reduce(Long::sum);
          if (rep >= 0) {
            secs[rep] = (System.nanoTime() - t0) / 1e9;
          }
          if (tokens <= 0) {
            throw new IllegalStateException("no tokens");
          }
        }
        double m = median(secs);
        out.printf("tokenize, Spark %s (%d partitions): %.0f examples/s, %.1f MB/s (median of %d)%n", spark,
            parallelism, texts / m, bytes / m / 1e6, repeats);
      } finally {
        session.stop();
      }
    }
    out.flush();
  }

  /** A JSON-lines row's start: its id and one of {@code lines} as its text; the caller closes the object. */
  private static String jsonRow(long id, List<String> lines) {
    return "{\"id\": " + id + ", \"text\": \"" + lines.get((int) (id % lines.size())).replace("\\", "\\\\")
        .replace("\"", "\\\"") + "\"";
  }

  private void benchStream(Path work) throws IOException {
    List<String> lines = englishLines();
    Path file = work.resolve("texts.jsonl");
    long target = (long) (gb * (1L << 30));
    long written = 0;
    long rows = 0;
    try (BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
      while (written < target) {
        String line = jsonRow(rows, lines) + "}\n";
        w.write(line);
        written += line.length();
        rows++;
      }
    }
    out.printf("streaming: wrote %s, %.2f GB, %d rows%n", file.getFileName(), Files.size(file) / 1e9, rows);
    double[] secs = new double[repeats];
    for (int rep = 0; rep < repeats; rep++) {
      long t0 = System.nanoTime();
      IterableDataset d = IterableDataset.fromFiles(DataFormat.JSON, LoadOptions.defaults(), file.toString());
      try (var it = d.iterator()) {
        for (int i = 0; i < 32; i++) {
          it.next();
        }
      }
      secs[rep] = (System.nanoTime() - t0) / 1e9;
    }
    out.printf("streaming: time to the first batch (32 rows) of a %.2f GB JSON-lines file: %.1f ms (median of %d)%n",
        Files.size(file) / 1e9, median(secs) * 1e3, repeats);
    benchResume(file, rows);
    out.flush();
  }

  /**
   * Resuming a shuffled stream half-way: from its stateDict (a seek in the file, then the shuffle buffer's
   * replay) against reading the rows before that point again, as a resume by step count does.
   */
  private void benchResume(Path file, long rows) {
    IterableDataset shuffled = IterableDataset.fromFiles(DataFormat.JSON, LoadOptions.defaults(), file.toString())
        .shuffle(0, 1000);
    long half = rows / 2;
    java.util.Map<String, Object> state;
    long t0 = System.nanoTime();
    try (var it = shuffled.iterator()) {
      for (long i = 0; i < half; i++) {
        it.next();
      }
      state = it.stateDict();
    }
    double rereadSecs = (System.nanoTime() - t0) / 1e9;
    double[] secs = new double[repeats];
    long again = 0;
    for (int rep = 0; rep < repeats; rep++) {
      long t1 = System.nanoTime();
      try (var it = shuffled.loadStateDict(state).iterator()) {
        it.next();
        again = it.rowsReadToResume();
      }
      secs[rep] = (System.nanoTime() - t1) / 1e9;
    }
    out.printf("streaming: resumed at row %d of %d (shuffle buffer 1000) from its state: first row after %.1f ms"
        + " (median of %d), %d rows read again; reading the %d rows before it again: %.1f s%n", half, rows,
        median(secs) * 1e3, repeats, again, half, rereadSecs);
  }

  /**
   * --load-files JSON-lines files of --gb in all (id, text, label), each larger than --range-mb parsed as ranges, loaded on Spark and split 80/20 with seed 42, each part
   * counted: by {@link SparkDataset} (rows parsed and kept on the executors, the split's order made by one task)
   * and by {@link DatasetLoader} (Arrow files in a cache folder the driver maps, the split's copies flattened
   * there). Prints wall seconds and MB/s of each, median of --repeats after a warm-up.
   */
  private void benchLoad(Path work) throws IOException {
    List<String> lines = englishLines();
    Path folder = Files.createDirectories(work.resolve("load"));
    if (loadFiles < 1) {
      throw new IllegalArgumentException("--load-files must be at least 1, got " + loadFiles);
    }
    long target = (long) (gb * (1L << 30)) / loadFiles;
    long bytes = 0;
    long rows = 0;
    for (int f = 0; f < loadFiles; f++) {
      try (BufferedWriter w = Files.newBufferedWriter(folder.resolve("part-" + f + ".jsonl"), StandardCharsets.UTF_8)) {
        for (long written = 0; written < target; rows++) {
          String line = jsonRow(rows, lines) + ", \"label\": " + rows % 3 + "}\n";
          w.write(line);
          written += line.length();
        }
      }
      bytes += Files.size(folder.resolve("part-" + f + ".jsonl"));
    }
    String files = folder + "/*.jsonl";
    TrainTestSplit split = TrainTestSplit.testFraction(0.2, 42);
    // Kryo, as conf/spark-defaults.conf sets it: the split moves every row through a shuffle.
    SparkSession session = SparkSession.builder().master(spark).appName("bench-datasets-load")
        .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.serializer", "org.apache.spark.serializer.KryoSerializer").getOrCreate();
    try {
      double[] load = new double[repeats];
      double[] splitSecs = new double[repeats];
      double[] cacheLoad = new double[repeats];
      double[] cacheSplit = new double[repeats];
      long parts = 0;
      for (int rep = -1; rep < repeats; rep++) {
        long t0 = System.nanoTime();
        LoadOptions.Builder options = LoadOptions.builder().spark(session);
        if (rangeMb != null) {
          options.rangeBytes(Math.max(1, (long) (rangeMb * (1L << 20))));
        }
        try (SparkDataset d = SparkDataset.load(DataFormat.JSON, options.build(), files)) {
          long t1 = System.nanoTime();
          SparkDataset.Split s = d.trainTestSplit(split);
          parts = s.train().indexed().count() + s.test().indexed().count();
          long t2 = System.nanoTime();
          if (rep >= 0) {
            load[rep] = (t1 - t0) / 1e9;
            splitSecs[rep] = (t2 - t1) / 1e9;
          }
        }
        Path cache = folder.resolve("cache-" + (rep + 1));
        long t3 = System.nanoTime();
        try (Dataset d = DatasetLoader.load(DataFormat.JSON, LoadOptions.builder().spark(session).cacheDir(cache)
            .build(), List.of(files))) {
          long t4 = System.nanoTime();
          try (DatasetDict s = d.trainTestSplit(split)) {
            long n = s.get("train").toSpark(session).count() + s.get("test").toSpark(session).count();
            if (n != parts) {
              throw new IllegalStateException("the Arrow-cache split has " + n + " rows, SparkDataset's " + parts);
            }
          }
          if (rep >= 0) {
            cacheLoad[rep] = (t4 - t3) / 1e9;
            cacheSplit[rep] = (System.nanoTime() - t4) / 1e9;
          }
        }
      }
      out.printf("load on Spark %s: %d JSON-lines files, %.1f MB, %d rows, split 80/20 into %d rows (median of %d)%n",
          spark, loadFiles, bytes / 1e6, rows, parts, repeats);
      out.printf("load on Spark, range size %s%n", rangeMb == null ? "default (" + (LoadOptions.DEFAULT_RANGE_BYTES >> 20)
          + " MiB)" : rangeMb + " MiB");
      out.printf("load on Spark, SparkDataset (rows on the executors): load %.2f s (%.1f MB/s), split and count"
          + " %.2f s%n", median(load), bytes / 1e6 / median(load), median(splitSecs));
      out.printf("load on Spark, DatasetLoader (Arrow cache folder): load %.2f s (%.1f MB/s), split, flatten and"
          + " count %.2f s%n", median(cacheLoad), bytes / 1e6 / median(cacheLoad), median(cacheSplit));
    } finally {
      session.stop();
    }
    out.flush();
  }
}
