package io.sparkformers.training.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Batch generation over a DataFrame on local[2]: two partitions, one model per JVM, PyTorch's tokens. */
class SparkGenerationTest {
  static SparkSession spark;

  @BeforeAll
  static void start() {
    spark = SparkSession.builder().master("local[2]").appName("spark-generation-test")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false").getOrCreate();
  }

  @AfterAll
  static void stop() {
    spark.stop();
    SparkGeneration.releaseModels();
  }

  @Test
  void everyRowGetsTheTokensPyTorchGreedyGives() throws Exception {
    int[] p0 = TestData.i32("gpt2-tiny/inputs/greedy0_prompt.i32");
    int[] p1 = TestData.i32("gpt2-tiny/inputs/greedy1_prompt.i32");
    StructType schema = new StructType().add("id", DataTypes.StringType)
        .add("input_ids", DataTypes.createArrayType(DataTypes.IntegerType));
    List<Row> rows = List.of(RowFactory.create("a", boxed(p0)), RowFactory.create("b", boxed(p1)),
        RowFactory.create("c", boxed(p0)), RowFactory.create("d", boxed(p1)), RowFactory.create("e", boxed(p1)));
    Dataset<Row> prompts = spark.createDataFrame(rows, schema).repartition(2);
    String folder = TestData.gpt2Tiny().toString();
    List<Row> out = SparkGeneration.generate(prompts, "input_ids", folder, GenerationConfig.greedy(10), 2)
        .collectAsList();
    assertEquals(5, out.size());
    String greedy0 = "[110, 165, 26, 221, 898, 221, 213, 165, 110, 221]";
    String greedy1 = "[268, 408, 165, 327, 279, 451, 165, 760, 279, 408]";
    for (Row r : out) {
      String id = r.getString(0);
      String got = r.getList(2).toString();
      assertEquals(id.equals("a") || id.equals("c") ? greedy0 : greedy1, got, id);
    }
    var e = assertThrows(IllegalArgumentException.class,
        () -> SparkGeneration.generate(prompts, "tokens", folder, GenerationConfig.greedy(1), 2));
    assertTrue(e.getMessage().contains("no column 'tokens'"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> SparkGeneration.generate(prompts, "id", folder, GenerationConfig.greedy(1), 2));
    assertTrue(e.getMessage().contains("column 'id' must be array<int> or array<bigint>"), e.getMessage());
  }

  @Test
  void aModelFolderGivenAsAHadoopUriIsCopiedToEachExecutor() throws Exception {
    int[] p1 = TestData.i32("gpt2-tiny/inputs/greedy1_prompt.i32");
    StructType schema = new StructType().add("input_ids", DataTypes.createArrayType(DataTypes.IntegerType));
    Dataset<Row> prompts = spark.createDataFrame(List.of(RowFactory.create((Object) boxed(p1)),
        RowFactory.create((Object) boxed(p1))), schema).repartition(2);
    // file:/... goes through Hadoop's FileSystem (as s3a:// or hdfs:// would): copied, loaded, copy deleted.
    String uri = TestData.gpt2Tiny().toUri().toString();
    assertTrue(uri.startsWith("file:/"), uri);
    long before = tempCopies();
    List<Row> out = SparkGeneration.generate(prompts, "input_ids", uri, GenerationConfig.greedy(10), 1)
        .collectAsList();
    assertEquals(2, out.size());
    for (Row r : out) {
      assertEquals("[268, 408, 165, 327, 279, 451, 165, 760, 279, 408]", r.getList(1).toString());
    }
    assertEquals(before, tempCopies(), "the local copy is deleted once the model is loaded");

    String missing = uri.replace("gpt2-tiny", "no-such-model");
    Exception e = assertThrows(Exception.class, () -> SparkGeneration.generate(prompts, "input_ids", missing,
        GenerationConfig.greedy(1), 1).collectAsList());
    String message = String.valueOf(e.getMessage());
    assertTrue(message.contains("model folder " + missing + " does not exist"), message);
  }

  private static long tempCopies() throws java.io.IOException {
    try (var files = java.nio.file.Files.list(java.nio.file.Path.of(System.getProperty("java.io.tmpdir")))) {
      return files.filter(f -> f.getFileName().toString().startsWith("sparkformers-model-")).count();
    }
  }

  private static Integer[] boxed(int[] a) {
    return Arrays.stream(a).boxed().toArray(Integer[]::new);
  }
}
