package io.sparkformers.training.pipelines;

import io.sparkformers.training.models.GenerationConfig;
import io.sparkformers.training.models.internal.PartitionBatches;
import io.sparkformers.training.models.internal.RemoteModelFolder;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.Metadata;
import org.apache.spark.sql.types.StringType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * {@link TextGenerationPipeline} over a Spark DataFrame of text prompts: each partition is continued by
 * {@code mapPartitions}, with the pipeline (model and tokenizer) loaded once per executor JVM and shared by
 * that executor's tasks, and the prompts taken in left-padded batches. The output has the input's columns plus
 * {@code generated_text} (the new tokens' text) and {@code generated_ids}. The model folder may be a Hadoop URI
 * ({@code s3a://}, {@code hdfs://}, ...): each executor copies it once to a local folder.
 */
public final class SparkTextGeneration {
  /** Pipelines loaded in this JVM, by folder: one per executor, reused by every task on it. */
  private static final Map<String, TextGenerationPipeline> LOADED = new ConcurrentHashMap<>();

  private SparkTextGeneration() {}

  /**
   * @param prompts a DataFrame with a string column {@code textColumn}
   * @param generation the generation settings (null: the folder's generation_config.json)
   */
  public static Dataset<Row> generate(Dataset<Row> prompts, String textColumn, String modelFolder,
      GenerationConfig generation, int batchSize) {
    if (batchSize < 1) {
      throw new IllegalArgumentException("batchSize must be at least 1, got " + batchSize);
    }
    StructType schema = prompts.schema();
    if (!schema.getFieldIndex(textColumn).isDefined()) {
      throw new IllegalArgumentException("the prompts DataFrame has no column '" + textColumn + "'; columns are "
          + String.join(", ", schema.fieldNames()));
    }
    int column = schema.fieldIndex(textColumn);
    if (!(schema.fields()[column].dataType() instanceof StringType)) {
      throw new IllegalArgumentException("column '" + textColumn + "' must hold strings, found "
          + schema.fields()[column].dataType().simpleString());
    }
    for (String added : List.of("generated_text", "generated_ids")) {
      if (schema.getFieldIndex(added).isDefined()) {
        throw new IllegalArgumentException("the prompts DataFrame already has a column '" + added + "'");
      }
    }
    StructType out = schema.add(new StructField("generated_text", DataTypes.StringType, false, Metadata.empty()))
        .add(new StructField("generated_ids", DataTypes.createArrayType(DataTypes.IntegerType, false), false,
            Metadata.empty()));
    // Configuration is not serializable: its entries travel with the function, for a folder given as a URI.
    Map<String, String> hadoopConf = RemoteModelFolder.isUri(modelFolder)
        ? RemoteModelFolder.entries(prompts.sparkSession().sparkContext().hadoopConfiguration()) : Map.of();
    MapPartitionsFunction<Row, Row> fn = rows -> generatePartition(rows, column, modelFolder, hadoopConf,
        generation, batchSize);
    return prompts.mapPartitions(fn, Encoders.row(out));
  }

  private static Iterator<Row> generatePartition(Iterator<Row> rows, int column, String modelFolder,
      Map<String, String> hadoopConf, GenerationConfig generation, int batchSize) {
    TextGenerationPipeline pipe = PartitionBatches.loadOnce(LOADED, modelFolder, hadoopConf,
        TextGenerationPipeline::fromPretrained);
    GenerationConfig settings = generation != null ? generation : pipe.defaults();
    return PartitionBatches.appendColumns(rows, batchSize, batch -> {
      List<String> texts = new ArrayList<>();
      for (Row r : batch) {
        if (r.isNullAt(column)) {
          throw new IllegalArgumentException("a prompt row has a null text: " + r);
        }
        texts.add(r.getString(column));
      }
      List<Object[]> appended = new ArrayList<>();
      for (TextGenerationPipeline.Result g : pipe.generate(texts, settings, null)) {
        appended.add(new Object[] {g.text(), PartitionBatches.boxed(g.generatedIds())});
      }
      return appended;
    });
  }

  /** Closes the pipelines this JVM loaded (they are otherwise kept for the JVM's life). */
  public static void releasePipelines() {
    LOADED.values().forEach(TextGenerationPipeline::close);
    LOADED.clear();
  }
}
