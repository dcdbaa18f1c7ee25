package io.sparkformers.datasets;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Hugging Face's {@code group_texts} from run_clm: within each batch of 1000 rows, the token lists of every
 * column are concatenated and cut into blocks of {@code blockSize}, the remainder that does not fill a block
 * is dropped, and {@code labels} is a copy of {@code input_ids}.
 */
public final class GroupTexts {
  /** run_clm maps group_texts with the default batch size. */
  public static final int BATCH_SIZE = 1000;

  private GroupTexts() {}

  public static Dataset groupTexts(Dataset tokenized, int blockSize) {
    if (blockSize <= 0) {
      throw new IllegalArgumentException("blockSize must be positive, got " + blockSize);
    }
    List<String> columns = tokenized.columnNames();
    for (String c : columns) {
      if (tokenized.features().type(c) != ColumnType.INT32_LIST) {
        throw new IllegalArgumentException("Column '" + c + "' is " + tokenized.features().type(c)
            + ": group_texts concatenates INT32_LIST columns only; remove the others first");
      }
    }
    if (!columns.contains("input_ids")) {
      throw new IllegalArgumentException("No 'input_ids' column; columns are " + columns);
    }
    MapOptions options = MapOptions.builder().batchSize(BATCH_SIZE).function("group_texts", "1/" + blockSize)
        .removeColumns(columns).build();
    return tokenized.mapBatched(batch -> {
      Map<String, List<Object>> out = new LinkedHashMap<>();
      for (String c : columns) {
        int total = 0;
        for (Object v : batch.get(c)) {
          total += v == null ? 0 : ((int[]) v).length;
        }
        int[] all = new int[total];
        int at = 0;
        for (Object v : batch.get(c)) {
          if (v != null) {
            System.arraycopy((int[]) v, 0, all, at, ((int[]) v).length);
            at += ((int[]) v).length;
          }
        }
        int usable = (total / blockSize) * blockSize;
        List<Object> blocks = new ArrayList<>();
        for (int s = 0; s < usable; s += blockSize) {
          blocks.add(java.util.Arrays.copyOfRange(all, s, s + blockSize));
        }
        out.put(c, blocks);
      }
      List<Object> labels = new ArrayList<>();
      for (Object ids : out.get("input_ids")) {
        labels.add(((int[]) ids).clone());
      }
      out.put("labels", labels);
      return out;
    }, options);
  }
}
