package io.sparkformers.it.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkformers.datasets.AutoTokenizer;
import io.sparkformers.datasets.Tokenizer;
import io.sparkformers.datasets.TokenizerTrainer;
import io.sparkformers.it.LocalClusterSpark;
import io.sparkformers.it.S3ProxyServer;
import io.sparkformers.jobs.train.JobConfig;
import io.sparkformers.jobs.train.TrainJob;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The causal LM train job on real executor JVMs with its prepared shards on {@code s3a://} (s3proxy): the ranks
 * read about half the shards each, and the run equals the same job with the shards in a local folder; a
 * tabular_classification job's shards on {@code s3a://} train as that job without the cache, and are reused.
 */
class PreparedShardsS3IT {
  @TempDir Path dir;

  @Test
  void shardsOnS3aAreReadByRankAndTrainAsTheLocalOnes() throws Exception {
    List<String> words = List.of("the film was good and the cast was great", "a bad plot and a dull cast",
        "good fun, great music", "dull, slow and bad", "the music was great fun", "slow, bad and dull music");
    Path tok = dir.resolve("tok");
    TokenizerTrainer.byteLevelBpe().vocabSize(300).minFrequency(1).build().train(words, tok);
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 600; i++) {
      lines.add(words.get(i % words.size()) + " " + i);
    }
    Path text = dir.resolve("train.txt");
    Files.writeString(text, String.join("\n", lines) + "\n");
    int vocab;
    try (Tokenizer t = AutoTokenizer.fromPretrained(tok)) {
      vocab = t.vocabSize();
    }
    try (S3ProxyServer s3 = S3ProxyServer.start(dir.resolve("s3"))) {
      s3.createBucket("cache");
      StringBuilder hadoop = new StringBuilder();
      s3.hadoopConfiguration().forEach((k, v) -> hadoop.append("\n    ").append(k).append(": '").append(v)
          .append("'"));
      String yaml = String.join("\n",
          "task: causal_lm",
          "model:",
          "  config: {model_type: gpt2, vocab_size: " + vocab + ", n_positions: 16, n_embd: 16, n_layer: 1,"
              + " n_head: 2}",
          "data:",
          "  train_file: " + text,
          "  tokenizer: " + tok,
          "  block_size: 16",
          "  hadoop:" + hadoop,
          "training_args: {max_steps: 6, per_device_train_batch_size: 4, per_device_eval_batch_size: 8,"
              + " save_strategy: 'no', disable_tqdm: true, seed: 3}",
          "world_size: 2",
          "");
      SparkSession spark = SparkSession.builder().config(LocalClusterSpark.conf(2, 1, 1024, "prepared-shards-s3-it")
          .set("spark.executor.extraJavaOptions", "-Dai.djl.offline=true -Dai.djl.default_engine=PyTorch"
              + " -Dai.djl.pytorch.num_threads=1")).getOrCreate();
      try {
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        // The barrier stage needs both executors registered (the driver is listed too).
        while (spark.sparkContext().statusTracker().getExecutorInfos().length < 3) {
          assertTrue(System.nanoTime() < deadline, "2 executors did not register within 90 s");
          Thread.sleep(100);
        }
        Map<String, Double> onS3 = TrainJob.run(JobConfig.parse(yaml, "s3.yaml", List.of(
            "data.cache_dir=s3a://cache/prepared-it", "training_args.output_dir=" + dir.resolve("out-s3"))), spark);
        Map<String, Double> local = TrainJob.run(JobConfig.parse(yaml, "local.yaml", List.of(
            "data.cache_dir=" + dir.resolve("local-cache"), "training_args.output_dir=" + dir.resolve("out-local"))),
            spark);
        assertEquals(local.get("train_rows"), onS3.get("train_rows"));
        assertEquals(local.get("train_loss"), onS3.get("train_loss"), "the same rows in the same order");
        assertEquals(local.get("eval_loss"), onS3.get("eval_loss"));
        assertEquals(6.0, onS3.get("global_step"));
        // The shards are on s3a, and each rank read its own half of the train shards (plus the eval shards).
        Configuration conf = new Configuration();
        s3.hadoopConfiguration().forEach(conf::set);
        long train = 0;
        long eval = 0;
        try (FileSystem fs = FileSystem.newInstance(URI.create("s3a://cache/"), conf)) {
          FileStatus[] folders = fs.listStatus(new org.apache.hadoop.fs.Path("s3a://cache/prepared-it/prepared"));
          assertEquals(1, folders.length, "one cache folder, no temporary one left");
          for (FileStatus f : fs.listStatus(folders[0].getPath())) {
            String name = f.getPath().getName();
            train += name.startsWith("train-") ? f.getLen() : 0;
            eval += name.startsWith("eval-") ? f.getLen() : 0;
          }
        }
        assertTrue(train > 0 && eval > 0, train + " " + eval);
        // Each rank read its own half of the train shards and the byte ranges of its own eval batches.
        for (int r = 0; r < 2; r++) {
          double read = onS3.get("shard_bytes_rank_" + r);
          assertTrue(read > 0.4 * (train + eval) && read < 0.6 * (train + eval), "rank " + r + " read " + read
              + " of " + (train + eval) + " bytes");
        }
        tabularShardsOnS3aTrainAsWithoutTheCache(spark, hadoop.toString());
      } finally {
        spark.stop();
      }
    }
  }

  /** tabular_classification with its prepared shards on s3a: the same losses and metrics as without a cache. */
  private void tabularShardsOnS3aTrainAsWithoutTheCache(SparkSession spark, String hadoop) throws Exception {
    StringBuilder csv = new StringBuilder("a,b,species\n");
    String[] species = {"setosa", "versicolor", "virginica"};
    for (int i = 0; i < 203; i++) {
      csv.append(i % 7).append(',').append(i * 0.25).append(',').append(species[i % 3]).append('\n');
    }
    Path data = dir.resolve("tabular.csv");
    Files.writeString(data, csv);
    String yaml = String.join("\n",
        "model:",
        "  config: {model_type: mlp, input_size: 2, hidden_sizes: [4], num_labels: 3}",
        "data:",
        "  train_file: " + data,
        "  label_column: species",
        "  hadoop:" + hadoop,
        "metrics: [accuracy, f1_macro]",
        "training_args: {num_train_epochs: 1, per_device_train_batch_size: 8, per_device_eval_batch_size: 3,"
            + " save_strategy: 'no', disable_tqdm: true, seed: 3}",
        "world_size: 2",
        "");
    Map<String, Double> uncached = TrainJob.run(JobConfig.parse(yaml, "tabular.yaml", List.of(
        "training_args.output_dir=" + dir.resolve("out-tabular"))), spark);
    for (String run : List.of("first", "reused")) {
      Map<String, Double> onS3 = TrainJob.run(JobConfig.parse(yaml, "tabular-s3.yaml", List.of(
          "data.cache_dir=s3a://cache/tabular-it", "training_args.output_dir=" + dir.resolve("out-" + run))), spark);
      for (String key : List.of("train_rows", "eval_rows", "train_loss", "eval_loss", "eval_accuracy",
          "eval_f1_macro", "global_step")) {
        assertEquals(uncached.get(key), onS3.get(key), run + " " + key);
      }
    }
  }
}
