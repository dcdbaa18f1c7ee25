package io.sparkformers.it.models;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.engine.Engine;
import io.sparkformers.it.LocalClusterSpark;
import io.sparkformers.it.S3ProxyServer;
import io.sparkformers.training.models.AutoModel;
import io.sparkformers.training.models.GenerationConfig;
import io.sparkformers.training.models.SparkGeneration;
import io.sparkformers.training.models.gpt2.Gpt2Config;
import io.sparkformers.training.models.gpt2.Gpt2LMHeadModel;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SparkGeneration with the model folder on {@code s3a://} (s3proxy, a child process) and tasks on two executor
 * JVMs: no node has the folder on its disk; each executor copies it once and gives the tokens the same model
 * gives locally.
 */
class S3GenerationIT {
  @TempDir Path tmp;

  @Test
  void executorsGenerateFromAModelFolderOnS3a() throws Exception {
    Engine.getInstance().setRandomSeed(21);
    Gpt2Config config = Gpt2Config.builder().vocabSize(300).nPositions(40).nEmbd(32).nLayer(2).nHead(4).build();
    List<int[]> prompts = List.of(new int[] {5, 17, 42, 7}, new int[] {250, 3}, new int[] {9, 9, 9, 100, 12, 1},
        new int[] {77});
    // A 300-token vocabulary has no GPT-2 <|endoftext|> (50256): pad left-padded batches with id 0, no eos.
    GenerationConfig greedy = GenerationConfig.builder().maxNewTokens(8).eosTokenIds(List.of()).padTokenId(0)
        .build();
    List<int[]> expected = new ArrayList<>();
    Path local = tmp.resolve("gpt2-small-random");
    try (Gpt2LMHeadModel model = (Gpt2LMHeadModel) AutoModel.fromConfig(config)) {
      model.savePretrained(local);
      for (int[] p : prompts) {
        expected.add(model.generate(List.of(p), greedy).get(0));
      }
    }
    try (S3ProxyServer s3 = S3ProxyServer.start(tmp.resolve("s3"))) {
      s3.createBucket("models");
      Configuration conf = new Configuration();
      s3.hadoopConfiguration().forEach(conf::set);
      try (FileSystem fs = FileSystem.newInstance(URI.create("s3a://models/"), conf)) {
        try (var files = Files.list(local)) {
          for (Path f : (Iterable<Path>) files::iterator) {
            fs.copyFromLocalFile(new org.apache.hadoop.fs.Path(f.toUri()),
                new org.apache.hadoop.fs.Path("s3a://models/gpt2-small-random/" + f.getFileName()));
          }
        }
      }
      SparkConf sparkConf = LocalClusterSpark.conf(2, 1, 1024, "s3-generation-it");
      for (Map.Entry<String, String> e : s3.sparkConfiguration().entrySet()) {
        sparkConf.set(e.getKey(), e.getValue());
      }
      JavaSparkContext sc = LocalClusterSpark.start(sparkConf, 2, Duration.ofSeconds(90));
      try {
        SparkSession spark = SparkSession.builder().sparkContext(sc.sc()).getOrCreate();
        StructType schema = new StructType().add("id", DataTypes.IntegerType)
            .add("input_ids", DataTypes.createArrayType(DataTypes.IntegerType));
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
          rows.add(RowFactory.create(i, Arrays.stream(prompts.get(i)).boxed().toArray(Integer[]::new)));
        }
        Dataset<Row> df = spark.createDataFrame(rows, schema).repartition(2);
        List<Row> out = SparkGeneration.generate(df, "input_ids", "s3a://models/gpt2-small-random", greedy, 2)
            .collectAsList();
        assertEquals(prompts.size(), out.size());
        for (Row r : out) {
          int id = r.getInt(0);
          List<Object> got = r.getList(2);
          assertEquals(Arrays.toString(expected.get(id)), got.toString(), "prompt " + id);
        }
        long executors = out.size() == 0 ? 0 : sc.sc().statusTracker().getExecutorInfos().length - 1;
        assertEquals(2, executors, "two executor JVMs");
      } finally {
        sc.stop();
      }
    }
  }
}
