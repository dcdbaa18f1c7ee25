package io.sparkformers.datasets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkformers.datasets.internal.ArrowShardWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import scala.Tuple2;

/**
 * Rows loaded and split on Spark executors equal the in-process loader's, on a local[2] session with Kryo, the
 * serializer the shipped spark-defaults.conf sets (the other Spark tests use Spark's default, Java's).
 */
class SparkDatasetTest {
  static SparkSession spark;
  @TempDir Path dir;
  @TempDir Path cache;

  @BeforeAll
  static void start() {
    spark = kryoSession("spark-dataset-test");
  }

  /** A local[2] session on Kryo, bound to the loopback address. */
  static SparkSession kryoSession(String name) {
    return SparkSession.builder().master("local[2]").appName(name)
        .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1").config("spark.sql.shuffle.partitions", "2")
        .config("spark.serializer", "org.apache.spark.serializer.KryoSerializer").getOrCreate();
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  private LoadOptions onSpark() {
    return LoadOptions.builder().cacheDir(cache.resolve("spark")).spark(spark).build();
  }

  private LoadOptions inProcess() {
    return LoadOptions.builder().cacheDir(cache.resolve("local")).build();
  }

  /** A value as a comparable Java object: arrays and Scala sequences as lists of boxed values. */
  private static Object plain(Object v) {
    if (v instanceof scala.collection.Seq<?> s) {
      return new ArrayList<>(scala.collection.JavaConverters.seqAsJavaList(s));
    }
    if (v != null && v.getClass().isArray()) {
      List<Object> out = new ArrayList<>();
      for (int i = 0; i < java.lang.reflect.Array.getLength(v); i++) {
        out.add(java.lang.reflect.Array.get(v, i));
      }
      return out;
    }
    return v;
  }

  /** The rows by index, checking that the indices are 0..n-1 and that the partitions hold them in order. */
  private static List<Row> collect(SparkDataset d) {
    List<Tuple2<Long, Row>> indexed = d.indexed().collect();
    assertEquals(d.numRows(), indexed.size());
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < indexed.size(); i++) {
      assertEquals(i, (long) indexed.get(i)._1(), "index of row " + i);
      rows.add(indexed.get(i)._2());
    }
    assertEquals(rows, d.toDataFrame().collectAsList());
    return rows;
  }

  private static void assertSameRows(Dataset expected, SparkDataset actual) {
    assertEquals(expected.features(), actual.features());
    assertEquals(expected.numRows(), actual.numRows());
    List<Row> rows = collect(actual);
    List<String> names = expected.features().names();
    for (int i = 0; i < rows.size(); i++) {
      for (int c = 0; c < names.size(); c++) {
        assertEquals(plain(expected.get(i, names.get(c))), plain(rows.get(i).get(c)),
            "row " + i + " column " + names.get(c));
      }
    }
  }

  private void assertLoadsAlike(DataFormat format, String... locations) {
    try (Dataset expected = DatasetLoader.load(format, inProcess(), List.of(locations));
        SparkDataset actual = SparkDataset.load(format, onSpark(), locations)) {
      assertTrue(expected.numRows() > 2);
      assertSameRows(expected, actual);
    }
  }

  @Test
  void csvFilesLoadAsInProcess() throws IOException {
    Files.writeString(dir.resolve("a.csv"), "x,y,name\n1,0.5,alpha\n2,,\"b, c\"\n");
    Files.writeString(dir.resolve("b.csv"), "x,y,name\n3,2,gamma\n4,1e3,NA\n5,-1.25,e\n");
    assertLoadsAlike(DataFormat.CSV, dir + "/*.csv");
  }

  @Test
  void jsonLinesAndJsonArraysLoadAsInProcess() throws IOException {
    Files.writeString(dir.resolve("a.jsonl"), "{\"x\": 1, \"t\": \"a\", \"ids\": [1, 2]}\n"
        + "{\"x\": 2, \"t\": null, \"ids\": []}\n");
    Files.writeString(dir.resolve("b.jsonl"), "{\"x\": 2.5, \"t\": \"c\", \"ids\": [3]}\n"
        + "{\"x\": null, \"t\": \"d\", \"ids\": null}\n");
    Files.writeString(dir.resolve("c.jsonl"), "");
    assertLoadsAlike(DataFormat.JSON, dir + "/*.jsonl");
    Files.writeString(dir.resolve("a.json"), "[{\"s\": \"p\", \"v\": [0.5, 1]}, {\"s\": \"q\", \"v\": [2]}]");
    Files.writeString(dir.resolve("b.json"), "[{\"s\": \"r\", \"v\": []}]");
    assertLoadsAlike(DataFormat.JSON, dir.resolve("a.json").toString(), dir.resolve("b.json").toString());
  }

  @Test
  void theArrowCacheLoaderOnSparkWorksWithKryoToo() throws IOException {
    assertEquals("org.apache.spark.serializer.KryoSerializer", spark.conf().get("spark.serializer"));
    Files.writeString(dir.resolve("a.jsonl"), "{\"x\": 1}\n{\"x\": 2}\n");
    Files.writeString(dir.resolve("b.jsonl"), "{\"x\": 3}\n");
    try (Dataset d = DatasetLoader.load(DataFormat.JSON, onSpark(), List.of(dir + "/*.jsonl"))) {
      assertEquals(List.of(1L, 2L, 3L), column(d, "x"));
    }
  }

  @Test
  void textFilesLoadAsInProcess() throws IOException {
    Files.writeString(dir.resolve("a.txt"), "first line\nsecond é line\n\n");
    Files.writeString(dir.resolve("b.txt"), "third\nfourth");
    assertLoadsAlike(DataFormat.TEXT, dir + "/*.txt");
  }

  @Test
  void parquetFilesLoadAsInProcess() {
    StructType schema = DataTypes.createStructType(List.of(
        DataTypes.createStructField("i", DataTypes.IntegerType, true),
        DataTypes.createStructField("d", DataTypes.DoubleType, true),
        DataTypes.createStructField("s", DataTypes.StringType, true),
        DataTypes.createStructField("ids", DataTypes.createArrayType(DataTypes.LongType, false), true)));
    List<Row> rows = new ArrayList<>();
    for (int k = 0; k < 50; k++) {
      rows.add(k % 9 == 4 ? RowFactory.create(null, null, null, null)
          : RowFactory.create(k, k / 3.0, "row " + k, Arrays.asList((long) k, (long) k * 7)));
    }
    String out = dir.resolve("pq").toString();
    spark.createDataFrame(rows, schema).repartition(3).write().parquet(out);
    assertLoadsAlike(DataFormat.PARQUET, out + "/*.parquet");
  }

  @Test
  void arrowFilesLoadAsInProcess() {
    Features f = Features.of("i", ColumnType.INT64, "ids", ColumnType.INT32_LIST, "s", ColumnType.STRING);
    for (int file = 0; file < 3; file++) {
      try (ArrowShardWriter w = new ArrowShardWriter(dir.resolve("part-" + file + ".arrow"), f, 4)) {
        for (int k = 0; k < 5 + file; k++) {
          w.write(new Object[] {(long) (file * 100 + k), new int[] {k, k + 1}, k == 2 ? null : "s" + k});
        }
        w.commit();
      }
    }
    assertLoadsAlike(DataFormat.ARROW, dir + "/*.arrow");
  }

  @Test
  void rowsSurviveSparksKryoAndJavaSerializers() throws IOException {
    // Shuffles (the split, the job's repartitions) move the rows with the session's serializer: Kryo in the
    // shipped spark-defaults.conf, Java serialization by default.
    Files.writeString(dir.resolve("l.jsonl"), "{\"ids\": [1, 2], \"x\": [0.5], \"s\": [\"a\"], \"b\": true}\n"
        + "{\"ids\": [], \"x\": null, \"s\": [], \"b\": null}\n");
    try (SparkDataset d = SparkDataset.load(DataFormat.JSON, onSpark(), dir.resolve("l.jsonl").toString())) {
      List<Row> rows = collect(d);
      org.apache.spark.SparkConf conf = new org.apache.spark.SparkConf();
      for (org.apache.spark.serializer.Serializer serializer : List.of(
          new org.apache.spark.serializer.KryoSerializer(conf), new org.apache.spark.serializer.JavaSerializer(conf))) {
        org.apache.spark.serializer.SerializerInstance s = serializer.newInstance();
        scala.reflect.ClassTag<Row> tag = scala.reflect.ClassTag$.MODULE$.apply(Row.class);
        for (Row r : rows) {
          Row back = s.deserialize(s.serialize(r, tag), tag);
          assertEquals(r, back, serializer.getClass().getSimpleName());
          assertEquals(plain(r.get(0)), plain(back.getList(0)));
        }
      }
    }
  }

  private Path numbered(int n) throws IOException {
    Path file = dir.resolve("rows-" + n + ".jsonl");
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < n; i++) {
      s.append("{\"i\": ").append(i).append(", \"label\": \"c").append(i % 3).append("\"}\n");
    }
    Files.writeString(file, s);
    return file;
  }

  private static List<Object> column(Dataset d, String name) {
    List<Object> out = new ArrayList<>();
    d.column(name).forEach(out::add);
    return out;
  }

  private static List<Object> column(SparkDataset d, String name) {
    int c = d.features().indexOf(name);
    List<Object> out = new ArrayList<>();
    collect(d).forEach(r -> out.add(r.get(c)));
    return out;
  }

  @Test
  void trainTestSplitGivesTheRowsOfTheInProcessSplit() throws IOException {
    for (int n : new int[] {2, 7, 100, 1001}) {
      Path file = numbered(n);
      try (Dataset local = DatasetLoader.load(DataFormat.JSON, inProcess(), List.of(file.toString()));
          SparkDataset loaded = SparkDataset.load(DataFormat.JSON, onSpark(), file.toString())) {
        List<TrainTestSplit> splits = new ArrayList<>(List.of(TrainTestSplit.testFraction(0.2, 42),
            TrainTestSplit.testFraction(0.5, 0), TrainTestSplit.builder().testCount(1).seed(1234).build(),
            TrainTestSplit.builder().testSize(0.3).shuffle(false).build()));
        if (n >= 100) {
          splits.add(TrainTestSplit.builder().testCount(17).trainCount(50).seed(7).build());
          splits.add(TrainTestSplit.builder().testSize(0.25).seed(3).stratifyByColumn("label").build());
        }
        for (TrainTestSplit split : splits) {
          DatasetDict expected = local.trainTestSplit(split);
          SparkDataset.Split actual = loaded.trainTestSplit(split);
          assertEquals(column(expected.get("train"), "i"), column(actual.train(), "i"), "train of " + n);
          assertEquals(column(expected.get("test"), "i"), column(actual.test(), "i"), "test of " + n);
          assertEquals(column(expected.get("test"), "label"), column(actual.test(), "label"));
          assertEquals(expected.get("train").numRows(), actual.train().numRows());
          expected.close();
        }
      }
    }
  }

  @Test
  void aSplitOfTooFewRowsIsRefusedAsInProcess() throws IOException {
    Path file = numbered(5);
    try (Dataset local = DatasetLoader.load(DataFormat.JSON, inProcess(), List.of(file.toString()));
        SparkDataset loaded = SparkDataset.load(DataFormat.JSON, onSpark(), file.toString())) {
      TrainTestSplit split = TrainTestSplit.builder().testCount(5).seed(1).build();
      IllegalArgumentException expected = assertThrows(IllegalArgumentException.class,
          () -> local.trainTestSplit(split));
      IllegalArgumentException actual = assertThrows(IllegalArgumentException.class,
          () -> loaded.trainTestSplit(split));
      assertEquals("test_size=5 should be in [1, 4]", actual.getMessage());
      assertEquals(expected.getMessage(), actual.getMessage());
    }
  }

  @Test
  void selectRangeAndSelectNumberRowsFromZero() throws IOException {
    Path file = numbered(30);
    try (SparkDataset loaded = SparkDataset.load(DataFormat.JSON, onSpark(), file.toString())) {
      SparkDataset range = loaded.selectRange(10, 25);
      assertEquals(15, range.numRows());
      List<Object> expected = new ArrayList<>();
      for (long i = 10; i < 25; i++) {
        expected.add(i);
      }
      assertEquals(expected, column(range, "i"));
      SparkDataset labels = range.select("label");
      assertEquals(Features.of("label", ColumnType.STRING), labels.features());
      assertEquals("c1", collect(labels).get(0).getString(0));
      assertEquals(List.of(), column(loaded.selectRange(30, 30), "i"));
      assertThrows(IndexOutOfBoundsException.class, () -> loaded.selectRange(5, 31));
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> loaded.select("nope"));
      assertEquals("No column 'nope'; columns are [i, label]", e.getMessage());
    }
  }

  @Test
  void aBadJsonLineNamesTheFileAndTheLine() throws IOException {
    Files.writeString(dir.resolve("ok.jsonl"), "{\"x\": 1}\n");
    Path bad = dir.resolve("bad.jsonl");
    Files.writeString(bad, "{\"x\": 1}\n{\"x\": 2}\n{\"x\": }\n");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> SparkDataset.load(DataFormat.JSON, onSpark(), dir.resolve("ok.jsonl").toString(), bad.toString()));
    assertTrue(e.getMessage().startsWith("file:" + bad + ": line 3, column 7: invalid JSON:"), e.getMessage());
    assertTrue(!e.getMessage().contains("SparkException") && !e.getMessage().contains("\n"), e.getMessage());
    // A value that does not fit the merged type fails while the rows are read, naming the line too.
    Files.writeString(bad, "{\"x\": 1}\n{\"x\": \"two\"}\n");
    Path typed = dir.resolve("typed.jsonl");
    Files.writeString(typed, "{\"x\": 3}\n");
    IllegalArgumentException wrong = assertThrows(IllegalArgumentException.class, () -> SparkDataset.load(
        DataFormat.JSON, LoadOptions.builder().spark(spark).features(Features.of("x", ColumnType.INT64)).build(),
        typed.toString(), bad.toString()));
    assertEquals("file:" + bad + ": line 2: key 'x': \"two\" is not a valid INT64", wrong.getMessage());
  }

  @Test
  void aValueThatDoesNotFitFailsAsInProcessAndStopsTheReader() throws IOException {
    // More lines than the reader may queue ahead: it is still reading when the task fails on the first row.
    StringBuilder lines = new StringBuilder();
    for (int i = 0; i < 5000; i++) {
      lines.append("line ").append(i).append('\n');
    }
    Path file = dir.resolve("lines.txt");
    Files.writeString(file, lines);
    Features wrong = Features.of("text", ColumnType.INT64);
    IllegalArgumentException expected = assertThrows(IllegalArgumentException.class, () -> DatasetLoader.load(
        DataFormat.TEXT, LoadOptions.builder().cacheDir(cache).features(wrong).build(), List.of(file.toString())));
    IllegalArgumentException actual = assertThrows(IllegalArgumentException.class, () -> SparkDataset.load(
        DataFormat.TEXT, LoadOptions.builder().spark(spark).features(wrong).build(), file.toString()));
    assertEquals(expected.getMessage(), actual.getMessage());
    assertTrue(actual.getMessage().startsWith("Column 'text' is INT64 but got "), actual.getMessage());
    // The failed task's completion stopped its reader thread (it waited for it to end).
    List<String> readers = Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive)
        .map(Thread::getName).filter(n -> n.startsWith("sparkformers-stream-")).toList();
    assertEquals(List.of(), readers);
  }

  @Test
  void filesWithDifferentColumnsNameBothFiles() throws IOException {
    Path a = dir.resolve("a.csv");
    Path b = dir.resolve("b.csv");
    Files.writeString(a, "x,y\n1,2\n");
    Files.writeString(b, "x,z\n1,2\n");
    IllegalArgumentException expected = assertThrows(IllegalArgumentException.class,
        () -> DatasetLoader.load(DataFormat.CSV, inProcess(), List.of(a.toString(), b.toString())));
    IllegalArgumentException actual = assertThrows(IllegalArgumentException.class,
        () -> SparkDataset.load(DataFormat.CSV, onSpark(), a.toString(), b.toString()));
    assertEquals("Column 'y' is in file:" + a + " but missing in file:" + b, actual.getMessage());
    assertEquals(expected.getMessage(), actual.getMessage());
  }

  @Test
  void loadingAndSplittingWriteNothingToTheCacheFolder() throws IOException {
    Path file = numbered(200);
    Path folder = cache.resolve("spark");
    Files.createDirectories(folder);
    try (SparkDataset loaded = SparkDataset.load(DataFormat.JSON, onSpark(), file.toString())) {
      SparkDataset.Split split = loaded.trainTestSplit(TrainTestSplit.testFraction(0.1, 42));
      assertEquals(180, collect(split.train()).size());
      assertEquals(20, collect(split.test()).size());
    }
    try (Stream<Path> left = Files.walk(folder)) {
      assertEquals(List.of(folder), left.toList());
    }
  }
}
