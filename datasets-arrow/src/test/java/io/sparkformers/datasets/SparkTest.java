package io.sparkformers.datasets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Spark conversions and Spark loading on one shared local[2] session. */
class SparkTest {
  static SparkSession spark;
  @TempDir Path cache;
  @TempDir Path dir;

  @BeforeAll
  static void start() {
    spark = SparkSession.builder().master("local[2]").appName("datasets-spark-test")
        .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1").config("spark.sql.shuffle.partitions", "2").getOrCreate();
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  @Test
  void dataFrameToDatasetToDataFrameIsLosslessAndKeepsOrder() {
    StructType schema = DataTypes.createStructType(List.of(
        DataTypes.createStructField("i", DataTypes.IntegerType, true),
        DataTypes.createStructField("l", DataTypes.LongType, true),
        DataTypes.createStructField("f", DataTypes.FloatType, true),
        DataTypes.createStructField("d", DataTypes.DoubleType, true),
        DataTypes.createStructField("b", DataTypes.BooleanType, true),
        DataTypes.createStructField("s", DataTypes.StringType, true),
        DataTypes.createStructField("ids", DataTypes.createArrayType(DataTypes.IntegerType, false), true),
        DataTypes.createStructField("vec", DataTypes.createArrayType(DataTypes.FloatType, false), true)));
    List<Row> rows = new ArrayList<>();
    for (int k = 0; k < 2500; k++) {
      rows.add(k % 7 == 3 ? RowFactory.create(null, null, null, null, null, null, null, null)
          : RowFactory.create(k, (long) k << 33, k / 4f, -k / 3.0, k % 2 == 0, "row " + k + " é",
              Arrays.asList(k, k + 1), Arrays.asList(0.5f * k)));
    }
    org.apache.spark.sql.Dataset<Row> df = spark.createDataFrame(rows, schema).repartition(3).sortWithinPartitions("i");
    List<Row> expected = df.collectAsList();
    try (Dataset d = Dataset.fromSpark(df, cache)) {
      assertEquals(2500, d.numRows());
      assertEquals(3, d.files().size());
      assertEquals(Features.of("i", ColumnType.INT32, "l", ColumnType.INT64, "f", ColumnType.FLOAT32,
          "d", ColumnType.FLOAT64, "b", ColumnType.BOOL, "s", ColumnType.STRING, "ids", ColumnType.INT32_LIST,
          "vec", ColumnType.FLOAT32_LIST), d.features());
      for (int k = 0; k < 2500; k += 97) {
        Row r = expected.get(k);
        assertEquals(r.get(0), d.get(k, "i"));
        assertEquals(r.get(5), d.get(k, "s"));
        if (!r.isNullAt(6)) {
          assertArrayEquals(r.getList(6).stream().mapToInt(x -> (Integer) x).toArray(), (int[]) d.get(k, "ids"));
        }
      }
      org.apache.spark.sql.Dataset<Row> back = d.toSpark(spark);
      assertEquals(df.schema().toString().replace("containsNull=false", "X"),
          back.schema().toString().replace("containsNull=false", "X"));
      assertEquals(expected, back.collectAsList());
      try (Dataset shuffled = d.shuffle(1)) {
        List<Row> viaIndices = shuffled.toSpark(spark).collectAsList();
        assertEquals(expected.get((int) (long) (Long) 0L + Math.toIntExact(indexOfFirst(shuffled, expected))),
            viaIndices.get(0));
      }
    }
  }

  private static long indexOfFirst(Dataset shuffled, List<Row> expected) {
    Object i = shuffled.get(0, "i");
    for (int k = 0; k < expected.size(); k++) {
      if (java.util.Objects.equals(expected.get(k).get(0), i) && (i != null || k == 3)) {
        return k;
      }
    }
    return -1;
  }

  @Test
  void anArrayOfStringsGoesBothWays() {
    org.apache.spark.sql.Dataset<Row> df = spark.sql("SELECT 'p' AS prediction, array('a b', 'c') AS references");
    try (Dataset d = Dataset.fromSpark(df, cache)) {
      assertEquals(ColumnType.STRING_LIST, d.features().type("references"));
      org.junit.jupiter.api.Assertions.assertArrayEquals(new String[] {"a b", "c"},
          (String[]) d.column("references").get(0));
      List<Row> back = d.toSpark(spark).collectAsList();
      assertEquals(List.of("a b", "c"), back.get(0).getList(1));
    }
    // Parquet written by Spark: a list of strings reads back as the same column.
    String parquet = cache.resolve("refs-parquet").toString();
    df.write().parquet(parquet);
    try (Dataset d = Dataset.load(DataFormat.PARQUET, LoadOptions.builder().cacheDir(cache.resolve("c")).build(),
        parquet + "/*.parquet")) {
      assertEquals(ColumnType.STRING_LIST, d.features().type("references"));
      org.junit.jupiter.api.Assertions.assertArrayEquals(new String[] {"a b", "c"},
          (String[]) d.column("references").get(0));
    }
  }

  @Test
  void aDataFrameWithAnUnsupportedTypeNamesTheColumn() {
    org.apache.spark.sql.Dataset<Row> df = spark.sql("SELECT map('a', 1) AS m");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Dataset.fromSpark(df, cache));
    assertEquals("DataFrame column 'm' has Spark type map<string,int>; supported: int, bigint, float, double,"
        + " boolean, string and arrays of int, bigint, float, double, string", e.getMessage());
  }

  @Test
  void loadingWithSparkEqualsLoadingInProcess() throws IOException {
    Files.writeString(dir.resolve("a.jsonl"), "{\"x\": 1, \"t\": \"a\"}\n{\"x\": 2, \"t\": \"b\"}\n");
    Files.writeString(dir.resolve("b.jsonl"), "{\"x\": 2.5, \"t\": \"c\"}\n");
    Path sparkCache = dir.resolve("spark-cache");
    try (Dataset local = Dataset.load(DataFormat.JSON, LoadOptions.builder().cacheDir(cache).build(),
            dir + "/*.jsonl");
        Dataset viaSpark = Dataset.load(DataFormat.JSON, LoadOptions.builder().cacheDir(sparkCache).spark(spark)
            .build(), dir + "/*.jsonl");
        Dataset again = Dataset.load(DataFormat.JSON, LoadOptions.builder().cacheDir(sparkCache).spark(spark)
            .build(), dir + "/*.jsonl")) {
      assertEquals(local.features(), viaSpark.features());
      assertEquals(List.of(1.0, 2.0, 2.5), viaSpark.column("x"));
      assertEquals(local.column("t"), viaSpark.column("t"));
      assertEquals(local.fingerprint(), viaSpark.fingerprint());
      assertEquals(2, viaSpark.files().size());
      assertEquals(viaSpark.files(), again.files());
    }
    Files.writeString(dir.resolve("c.jsonl"), "{\"x\": 1}\n{\"x\": }\n");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Dataset.load(DataFormat.JSON,
        LoadOptions.builder().cacheDir(sparkCache).spark(spark).build(), dir.resolve("c.jsonl").toString()));
    assertTrue(e.getMessage().startsWith("file:" + dir.resolve("c.jsonl") + ": line 2, column 7: invalid JSON:"
        + " Unexpected character ('}' (code 125))"), e.getMessage());
  }

  @Test
  void mapAndTokenizeOnSparkEqualInProcess() throws IOException {
    List<String> lines;
    try (java.io.InputStream in = SparkTest.class.getResourceAsStream("/text/apache-2.0.txt")) {
      lines = Arrays.asList(new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).split("\n"));
    }
    Path tokFolder = dir.resolve("tok");
    TokenizerTrainer.byteLevelBpe().vocabSize(400).build().train(lines, tokFolder);
    List<java.util.Map<String, Object>> rows = new ArrayList<>();
    for (String l : lines) {
      rows.add(java.util.Map.of("text", l));
    }
    Path otherCache = dir.resolve("other-cache");
    try (Dataset d = Dataset.fromRows(Features.of("text", ColumnType.STRING), rows, cache);
        Dataset onSpark = d.withCacheDir(otherCache);
        Tokenizer t = AutoTokenizer.fromPretrained(tokFolder);
        Dataset local = t.tokenize(d, "text", 0, "text");
        Dataset parallel = t.tokenize(spark, onSpark, "text", 0, "text");
        Dataset lengths = onSpark.mapBatched(spark, batch -> {
          List<Object> n = new ArrayList<>();
          batch.get("text").forEach(x -> n.add(((String) x).length()));
          return java.util.Map.of("n", n);
        }, MapOptions.builder().batchSize(50).function("length", "1").build())) {
      assertEquals(local.fingerprint(), parallel.fingerprint());
      assertEquals(1, parallel.files().size()); // 202 rows: one batch of 1000, one task
      assertEquals(local.numRows(), parallel.numRows());
      for (long i = 0; i < local.numRows(); i++) {
        assertArrayEquals((int[]) local.get(i, "input_ids"), (int[]) parallel.get(i, "input_ids"));
      }
      assertEquals(Features.of("text", ColumnType.STRING, "n", ColumnType.INT32), lengths.features());
      assertEquals(2, lengths.files().size()); // 5 batches of 50 over local[2]: two tasks, one shard each
      for (long i = 0; i < d.numRows(); i++) {
        assertEquals(lines.get((int) i).length(), lengths.get(i, "n"));
      }
    }
  }
}
