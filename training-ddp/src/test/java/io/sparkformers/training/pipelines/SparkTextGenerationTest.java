package io.sparkformers.training.pipelines;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.sparkformers.training.models.GenerationConfig;
import java.nio.file.Path;
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
import org.junit.jupiter.api.io.TempDir;

/** Text prompts over a DataFrame on local[2]: every row gets PyTorch's greedy tokens and their text. */
class SparkTextGenerationTest {
  static SparkSession spark;
  @TempDir static Path tmp;

  @BeforeAll
  static void start() {
    spark = SparkSession.builder().master("local[2]").appName("spark-text-generation-test")
        .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false").getOrCreate();
  }

  @AfterAll
  static void stop() {
    spark.stop();
    SparkTextGeneration.releasePipelines();
  }

  @Test
  void everyRowGetsItsContinuationAsTextAndIds() throws Exception {
    String folder = TextGenerationPipelineTest.folder(tmp, true).toString();
    String prompt = TextGenerationPipelineTest.words(TextGenerationPipelineTest.PROMPT);
    StructType schema = new StructType().add("id", DataTypes.IntegerType).add("text", DataTypes.StringType);
    List<Row> rows = List.of(RowFactory.create(1, prompt), RowFactory.create(2, "w7 w8"), RowFactory.create(3, prompt));
    Dataset<Row> prompts = spark.createDataFrame(rows, schema).repartition(2);
    List<Row> out = SparkTextGeneration.generate(prompts, "text", folder, GenerationConfig.greedy(10), 2)
        .orderBy("id").collectAsList();
    assertEquals(3, out.size());
    String greedy = TextGenerationPipelineTest.words(TextGenerationPipelineTest.GREEDY);
    assertEquals(greedy, out.get(0).getString(2));
    assertEquals(greedy, out.get(2).getString(2));
    assertEquals("[110, 165, 26, 221, 898, 221, 213, 165, 110, 221]", out.get(0).getList(3).toString());
    assertEquals(out.get(1).getList(3).size(), out.get(1).getString(2).split(" ").length);

    assertEquals("the prompts DataFrame has no column 'prompt'; columns are id, text",
        assertThrows(IllegalArgumentException.class,
            () -> SparkTextGeneration.generate(prompts, "prompt", folder, null, 2)).getMessage());
    assertEquals("column 'id' must hold strings, found int", assertThrows(IllegalArgumentException.class,
        () -> SparkTextGeneration.generate(prompts, "id", folder, null, 2)).getMessage());
  }
}
