package io.sparkformers.jobs;

import io.sparkformers.evaluate.Bleu;
import io.sparkformers.evaluate.Chrf;
import io.sparkformers.evaluate.Classification;
import io.sparkformers.evaluate.EvaluateFunctions;
import io.sparkformers.evaluate.Rouge;
import io.sparkformers.evaluate.TextMetric;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.Serializable;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code sparkformers bench evaluate}: corpus BLEU, chrF, ROUGE 1/2/L/Lsum (with and without stemming) on
 * sentence pairs built from real English text (Debian's license texts, perturbed deterministically), and F1 on
 * as many labels (more than 16 words or not) — one thread (CPU seconds, median of the repeats), Spark local[N] (wall seconds), and one
 * thread again at {@code --scale} times the data to show the growth.
 */
@Command(
    name = "evaluate",
    mixinStandardHelpOptions = true,
    showDefaultValues = true,
    description = "Benchmark the evaluate metrics on one thread, on Spark, and at a larger scale.")
public final class BenchEvaluateCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--pairs", defaultValue = "50000", description = "sentence pairs (and labels)")
  int pairs;

  @Option(names = "--scale", defaultValue = "10", description = "growth check at this many times the pairs; 1 skips it")
  int scale;

  @Option(names = "--repeats", defaultValue = "5", description = "timed repeats; the median is reported")
  int repeats;

  @Option(names = "--warmups", defaultValue = "3", description = "untimed runs first, so that the JIT has compiled the code")
  int warmups;

  @Option(names = "--spark", defaultValue = "local[2]", description = "Spark master for the Spark timings; 'none' skips them")
  String spark;

  @Option(names = "--text-dir", defaultValue = "/usr/share/common-licenses", description = "folder of English text files")
  Path textDir;

  @Option(names = "--json", description = "also print one JSON line per measurement")
  boolean json;

  record Pair(String prediction, String reference, long predictionLabel, long referenceLabel) {}

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    List<String> words = words(textDir);
    List<Pair> data = pairs(words, pairs, 42);
    long tokens = data.stream().mapToLong(p -> p.reference().split("\\s+").length).sum();
    out.printf("data: %d pairs from %s (%d words of text), %d reference tokens%n", data.size(), textDir, words.size(), tokens);
    out.printf("%-14s %14s %14s%n", "metric", "1 thread CPU s", "value");
    List<Object[]> single = new ArrayList<>();
    for (String name : List.of("bleu", "chrf", "rouge", "rouge_stem", "f1")) {
      double[] r = timeSingle(name, data);
      single.add(new Object[] {name, r[0]});
      out.printf("%-14s %14.3f %14.6f%n", name, r[0], r[1]);
      if (json) {
        out.printf("{\"bench\": \"evaluate\", \"metric\": \"%s\", \"mode\": \"1 thread\", \"pairs\": %d, \"cpu_s\": %.4f, \"value\": %.10f}%n",
            name, data.size(), r[0], r[1]);
      }
      out.flush();
    }
    if (!spark.equals("none")) {
      SparkSession session = SparkSession.builder().master(spark).appName("bench evaluate")
          .config("spark.ui.enabled", "false").getOrCreate();
      try {
        StructType schema = DataTypes.createStructType(List.of(
            DataTypes.createStructField("prediction", DataTypes.StringType, false),
            DataTypes.createStructField("references", DataTypes.createArrayType(DataTypes.StringType), false),
            DataTypes.createStructField("p_label", DataTypes.IntegerType, false),
            DataTypes.createStructField("r_label", DataTypes.IntegerType, false)));
        List<Row> rows = new ArrayList<>();
        for (Pair p : data) {
          rows.add(RowFactory.create(p.prediction(), new String[] {p.reference()}, (int) p.predictionLabel(), (int) p.referenceLabel()));
        }
        int partitions = session.sparkContext().defaultParallelism();
        Dataset<Row> df = session.createDataFrame(rows, schema).repartition(partitions).cache();
        df.count();
        // Task CPU time summed over executors: on a machine shared with other work the wall time mostly
        // measures waiting for a core, the task CPU time what the aggregation itself costs.
        java.util.concurrent.atomic.AtomicLong taskCpuNanos = new java.util.concurrent.atomic.AtomicLong();
        session.sparkContext().addSparkListener(new org.apache.spark.scheduler.SparkListener() {
          @Override
          public void onTaskEnd(org.apache.spark.scheduler.SparkListenerTaskEnd end) {
            if (end.taskMetrics() != null) {
              taskCpuNanos.addAndGet(end.taskMetrics().executorCpuTime());
            }
          }
        });
        out.printf("%-14s %14s %14s  (%s, %d partitions)%n", "metric", "Spark wall s", "task CPU s", spark, partitions);
        for (String name : List.of("bleu", "chrf", "rouge", "rouge_stem", "f1")) {
          Column c = column(name);
          double[] times = new double[repeats];
          double[] cpu = new double[repeats];
          for (int w = 0; w < warmups; w++) {
            df.agg(c).head();
          }
          for (int i = 0; i < repeats; i++) {
            // Spark's listener bus is internal but public in the bytecode: wait until it has seen every task end.
            session.sparkContext().listenerBus().waitUntilEmpty();
            taskCpuNanos.set(0);
            long t0 = System.nanoTime();
            df.agg(c).head();
            times[i] = (System.nanoTime() - t0) / 1e9;
            session.sparkContext().listenerBus().waitUntilEmpty();
            cpu[i] = taskCpuNanos.get() / 1e9;
          }
          double median = median(times);
          out.printf("%-14s %14.3f %14.3f%n", name, median, median(cpu));
          if (json) {
            out.printf("{\"bench\": \"evaluate\", \"metric\": \"%s\", \"mode\": \"spark %s\", \"pairs\": %d, \"wall_s\": %.4f, \"task_cpu_s\": %.4f}%n",
                name, spark, data.size(), median, median(cpu));
          }
          out.flush();
        }
      } finally {
        session.stop();
      }
    }
    if (scale > 1) {
      List<Pair> big = pairs(words, pairs * scale, 43);
      out.printf("%-14s %14s %14s  (%d pairs, %dx)%n", "metric", "1 thread CPU s", "ratio", big.size(), scale);
      for (Object[] s : single) {
        String name = (String) s[0];
        double[] r = timeSingle(name, big);
        out.printf("%-14s %14.3f %14.2f%n", name, r[0], r[0] / (Double) s[1]);
        if (json) {
          out.printf("{\"bench\": \"evaluate\", \"metric\": \"%s\", \"mode\": \"1 thread\", \"pairs\": %d, \"cpu_s\": %.4f}%n",
              name, big.size(), r[0]);
        }
        out.flush();
      }
    }
    return 0;
  }

  private static Column column(String name) {
    Column p = functions.col("prediction");
    Column r = functions.col("references");
    switch (name) {
      case "bleu":
        return EvaluateFunctions.bleu(p, r);
      case "chrf":
        return EvaluateFunctions.chrf(p, r);
      case "rouge":
        return EvaluateFunctions.rouge(p, r, false);
      case "rouge_stem":
        return EvaluateFunctions.rouge(p, r, true);
      default:
        return EvaluateFunctions.f1(functions.col("p_label"), functions.col("r_label"), Classification.Options.builder().build());
    }
  }

  /** [median CPU seconds of this thread, the metric's headline value]. */
  private double[] timeSingle(String name, List<Pair> data) {
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    double[] times = new double[repeats];
    double value = 0;
    for (int i = -warmups; i < repeats; i++) {
      long t0 = mx.getCurrentThreadCpuTime();
      value = run(name, data);
      if (i >= 0) {
        times[i] = (mx.getCurrentThreadCpuTime() - t0) / 1e9;
      }
    }
    return new double[] {median(times), value};
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private static double run(String name, List<Pair> data) {
    if (name.equals("f1")) {
      Classification c = new Classification();
      Classification.Stats s = c.newState();
      for (Pair p : data) {
        c.add(s, p.predictionLabel(), p.referenceLabel());
      }
      return c.compute(s).getDouble("f1");
    }
    TextMetric m = name.equals("bleu") ? new Bleu() : name.equals("chrf") ? new Chrf()
        : new Rouge(List.of("rouge1", "rouge2", "rougeL", "rougeLsum"), name.equals("rouge_stem"), false);
    Serializable s = m.newState();
    for (Pair p : data) {
      m.add(s, p.prediction(), List.of(p.reference()));
    }
    var r = m.compute(s);
    return r.has("score") ? r.getDouble("score") : r.getResult("rougeL").getDouble("fmeasure");
  }

  static double median(double[] xs) {
    double[] c = xs.clone();
    Arrays.sort(c);
    return c.length % 2 == 1 ? c[c.length / 2] : (c[c.length / 2 - 1] + c[c.length / 2]) / 2;
  }

  static List<String> words(Path dir) throws IOException {
    List<String> words = new ArrayList<>();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : files.sorted().toList()) {
        if (Files.isRegularFile(f)) {
          String text = new String(Files.readAllBytes(f), StandardCharsets.UTF_8);
          for (String w : text.split("\\s+")) {
            if (!w.isEmpty()) {
              words.add(w);
            }
          }
        }
      }
    }
    if (words.size() < 1000) {
      throw new IllegalStateException(dir + " holds too little text (" + words.size() + " words)");
    }
    return words;
  }

  /**
   * References are runs of 8–24 consecutive words of the text (16 on average); predictions drop, replace and
   * swap words, change case, and one in five pairs has a line break (rougeLsum's sentence split).
   */
  static List<Pair> pairs(List<String> words, int n, long seed) {
    Random random = new Random(seed);
    List<Pair> out = new ArrayList<>(n);
    int cursor = 0;
    for (int i = 0; i < n; i++) {
      int len = 8 + random.nextInt(17);
      List<String> ref = new ArrayList<>(len);
      for (int k = 0; k < len; k++) {
        ref.add(words.get((cursor + k) % words.size()));
      }
      cursor = (cursor + len) % words.size();
      List<String> hyp = new ArrayList<>(len);
      for (String w : ref) {
        double u = random.nextDouble();
        if (u < 0.08) {
          continue;
        } else if (u < 0.16) {
          hyp.add(words.get(random.nextInt(words.size())));
        } else if (u < 0.20) {
          hyp.add(w.toUpperCase());
        } else {
          hyp.add(w);
        }
      }
      if (hyp.size() > 2 && random.nextDouble() < 0.1) {
        int j = random.nextInt(hyp.size() - 1);
        String t = hyp.get(j);
        hyp.set(j, hyp.get(j + 1));
        hyp.set(j + 1, t);
      }
      String r = String.join(" ", ref);
      String h = String.join(" ", hyp);
      if (random.nextDouble() < 0.2) {
        r = r.replaceFirst(" ", "\n");
        h = h.replaceFirst(" ", "\n");
      }
      out.add(new Pair(h, r, hyp.size() > 16 ? 1 : 0, ref.size() > 16 ? 1 : 0));
    }
    return out;
  }
}
