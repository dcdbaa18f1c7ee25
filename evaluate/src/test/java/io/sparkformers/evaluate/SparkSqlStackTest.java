package io.sparkformers.evaluate;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Proves the stack: an embedded local[2] Spark SQL session aggregates over two partitions. */
class SparkSqlStackTest {
  private static SparkSession spark;

  @BeforeAll
  static void start() {
    spark = SparkSession.builder()
        .master("local[2]")
        .appName("spark-sql-stack-test")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate();
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  @Test
  void groupedAggregationOverTwoPartitionsMatchesHandComputedValues() {
    spark.range(0, 10, 1, 2).createOrReplaceTempView("t");
    List<Row> rows = spark.sql(
        "SELECT id % 2 AS parity, count(*) AS n, sum(id) AS total FROM t GROUP BY id % 2 ORDER BY parity")
        .collectAsList();
    assertEquals(2, rows.size());
    assertEquals(List.of(0L, 5L, 20L), List.of(rows.get(0).getLong(0), rows.get(0).getLong(1), rows.get(0).getLong(2)));
    assertEquals(List.of(1L, 5L, 25L), List.of(rows.get(1).getLong(0), rows.get(1).getLong(1), rows.get(1).getLong(2)));
  }
}
