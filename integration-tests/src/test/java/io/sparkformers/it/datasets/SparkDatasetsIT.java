package io.sparkformers.it.datasets;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sparkformers.datasets.ColumnType;
import io.sparkformers.datasets.DataFormat;
import io.sparkformers.datasets.Dataset;
import io.sparkformers.datasets.Features;
import io.sparkformers.datasets.LoadOptions;
import io.sparkformers.it.LocalClusterSpark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** DataFrame ↔ Dataset and loading as a Spark job, with tasks on two separate executor JVMs. */
class SparkDatasetsIT {
  @TempDir Path dir;

  @Test
  void dataFrameRoundTripAndSparkLoadOnExecutorJvms() throws Exception {
    JavaSparkContext sc = LocalClusterSpark.start(LocalClusterSpark.conf(2, 1, 1024, "datasets-it"), 2,
        Duration.ofSeconds(90));
    SparkSession spark = SparkSession.builder().sparkContext(sc.sc()).getOrCreate();
    try {
      StructType schema = DataTypes.createStructType(List.of(
          DataTypes.createStructField("id", DataTypes.LongType, true),
          DataTypes.createStructField("text", DataTypes.StringType, true),
          DataTypes.createStructField("input_ids", DataTypes.createArrayType(DataTypes.IntegerType, false), true)));
      List<Row> rows = new ArrayList<>();
      for (int i = 0; i < 1000; i++) {
        rows.add(RowFactory.create((long) i, i % 11 == 0 ? null : "text " + i, Arrays.asList(i, i * 2, i * 3)));
      }
      org.apache.spark.sql.Dataset<Row> df = spark.createDataFrame(rows, schema).repartition(4)
          .sortWithinPartitions("id");
      List<Row> expected = df.collectAsList();
      try (Dataset d = Dataset.fromSpark(df, dir.resolve("cache"))) {
        assertEquals(1000, d.numRows());
        assertEquals(4, d.files().size());
        assertEquals(Features.of("id", ColumnType.INT64, "text", ColumnType.STRING, "input_ids",
            ColumnType.INT32_LIST), d.features());
        assertEquals(expected.get(0).get(0), d.get(0, "id"));
        assertEquals(expected, d.toSpark(spark).collectAsList());
      }
      Path data = Files.createDirectories(dir.resolve("data"));
      for (int f = 0; f < 3; f++) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < 100; i++) {
          s.append("{\"n\": ").append(f * 100 + i).append(", \"t\": \"x").append(i).append("\"}\n");
        }
        Files.writeString(data.resolve("part-" + f + ".jsonl"), s.toString());
      }
      try (Dataset loaded = Dataset.load(DataFormat.JSON, LoadOptions.builder().cacheDir(dir.resolve("cache"))
          .spark(spark).build(), data.toString())) {
        assertEquals(300, loaded.numRows());
        assertEquals(3, loaded.files().size());
        List<Object> n = loaded.column("n");
        for (int i = 0; i < 300; i++) {
          assertEquals((long) i, n.get(i));
        }
      }
    } finally {
      spark.stop();
    }
  }
}
