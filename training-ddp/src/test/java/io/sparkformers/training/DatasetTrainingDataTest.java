package io.sparkformers.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.sparkformers.datasets.ColumnType;
import io.sparkformers.datasets.Dataset;
import io.sparkformers.datasets.Features;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatasetTrainingDataTest {
  @TempDir Path cache;

  private Dataset tokens(int n) {
    List<Map<String, Object>> rows = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      rows.add(Map.of("input_ids", new int[] {i, i + 1, i + 2}, "labels", i % 3, "score", i / 4.0,
          "text", "row " + i));
    }
    return Dataset.fromRows(Features.of("input_ids", ColumnType.INT32_LIST, "labels", ColumnType.INT32,
        "score", ColumnType.FLOAT64, "text", ColumnType.STRING), rows, cache);
  }

  @Test
  void batchesHoldTheAskedColumnsOfTheGivenRowsInOrder() {
    try (Dataset d = tokens(6);
        DatasetTrainingData data = new DatasetTrainingData(d, List.of("input_ids"), List.of("labels", "mask"));
        NDManager m = NDManager.newBaseManager()) {
      assertEquals(6, data.numRows());
      assertEquals(Set.of("input_ids", "labels"), data.columns(), "text and score are not model inputs");
      Map<String, NDArray> batch = data.batch(m, new long[] {4, 1});
      assertEquals(new Shape(2, 3), batch.get("input_ids").getShape());
      assertEquals(DataType.INT64, batch.get("input_ids").getDataType());
      assertArrayEquals(new long[] {4, 5, 6, 1, 2, 3}, batch.get("input_ids").toLongArray());
      assertArrayEquals(new long[] {1, 1}, batch.get("labels").toLongArray());
    }
  }

  @Test
  void floatColumnsAndShuffledDatasetsAreRead() {
    try (Dataset d = tokens(8); Dataset shuffled = d.shuffle(3);
        DatasetTrainingData data = new DatasetTrainingData(shuffled, List.of("score"), List.of());
        NDManager m = NDManager.newBaseManager()) {
      float[] scores = data.batch(m, new long[] {0, 1, 2, 3, 4, 5, 6, 7}).get("score").toFloatArray();
      for (int i = 0; i < 8; i++) {
        assertEquals(((Number) shuffled.get(i, "score")).floatValue(), scores[i]);
      }
    }
  }

  @Test
  void badColumnsAreNamed() {
    try (Dataset d = tokens(3)) {
      assertEquals("the dataset lacks the column(s) [features] the model needs; it has [input_ids, labels, score,"
          + " text]", assertThrows(IllegalArgumentException.class,
              () -> new DatasetTrainingData(d, List.of("features"), List.of())).getMessage());
      assertEquals("column 'text' holds STRING values: the Trainer takes numbers or lists of numbers (tokenize"
          + " text columns first)", assertThrows(IllegalArgumentException.class,
              () -> new DatasetTrainingData(d, List.of("text"), List.of())).getMessage());
    }
    try (Dataset d = Dataset.fromRows(Features.of("refs", ColumnType.STRING_LIST),
        List.of(Map.of("refs", new String[] {"a"})), cache)) {
      assertEquals("column 'refs' holds STRING_LIST values: the Trainer takes numbers or lists of numbers (tokenize"
          + " text columns first)", assertThrows(IllegalArgumentException.class,
              () -> new DatasetTrainingData(d, List.of("refs"), List.of())).getMessage());
    }
    List<Map<String, Object>> ragged = List.of(Map.of("input_ids", new int[] {1, 2}),
        Map.of("input_ids", new int[] {3}));
    try (Dataset d = Dataset.fromRows(Features.of("input_ids", ColumnType.INT32_LIST), ragged, cache)) {
      assertEquals("column 'input_ids': row 1 has 1 values, row 0 has 2: rows of a batch must be as long (pad"
          + " them to one length, or group the texts into blocks)", assertThrows(IllegalArgumentException.class,
              () -> new DatasetTrainingData(d, List.of("input_ids"), List.of())).getMessage());
    }
  }
}
