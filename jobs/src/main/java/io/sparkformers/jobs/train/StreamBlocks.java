package io.sparkformers.jobs.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.sparkformers.datasets.AutoTokenizer;
import io.sparkformers.datasets.DataFormat;
import io.sparkformers.datasets.GroupTexts;
import io.sparkformers.datasets.IterableDataset;
import io.sparkformers.datasets.LoadOptions;
import io.sparkformers.datasets.Tokenizer;
import io.sparkformers.training.TrainingData;
import java.io.Serializable;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A rank's part of a streamed causal LM dataset (datasets' {@code streaming=True}) as the Trainer's rows: the
 * train files read lazily, shuffled through a seeded buffer (reseeded each pass, as {@code set_epoch}), split
 * by node, tokenized and grouped into blocks by group_texts over each 1000 rows, as run_clm maps a stream;
 * when the stream ends the next pass starts. The rows are read in order only: row {@code k} is the k-th block
 * of the stream, so a resumed run that asks for row k first skips the k blocks trained on before (the
 * position follows from the step count the checkpoint holds, as transformers' Trainer skips the batches of
 * a resumed stream) and continues exactly where the interrupted run was.
 */
final class StreamBlocks implements TrainingData, AutoCloseable {
  private static final Set<String> COLUMNS = new LinkedHashSet<>(List.of("input_ids", "attention_mask", "labels"));

  /** What a rank needs to open the stream: serializable, it travels with the barrier task. */
  record Spec(List<String> files, DataFormat format, Map<String, String> hadoop, String textColumn,
      String tokenizer, int blockSize, long seed, int bufferSize, long rowsPerRank, String what)
      implements Serializable {}

  private final Spec spec;
  private final int rank;
  private final int worldSize;
  private final Tokenizer tokenizer;
  private final ArrayDeque<int[]> pending = new ArrayDeque<>();
  private Iterator<Map<String, Object>> rows;
  private int pass;
  private boolean passHadBlocks;
  private long position; // blocks handed out or skipped
  private long skipped;

  StreamBlocks(Spec spec, int rank, int worldSize) {
    this.spec = spec;
    this.rank = rank;
    this.worldSize = worldSize;
    this.tokenizer = spec.tokenizer() == null ? null : AutoTokenizer.fromPretrained(Path.of(spec.tokenizer()));
  }

  /** The stream of pass {@code pass}, this rank's part of it. */
  static IterableDataset open(Spec spec, int pass, int rank, int worldSize) {
    LoadOptions options = LoadOptions.builder().hadoopConfiguration(spec.hadoop()).build();
    IterableDataset d = IterableDataset.fromFiles(spec.format(), options, spec.files().toArray(String[]::new));
    if (spec.bufferSize() > 1) {
      d = d.shuffle(spec.seed(), spec.bufferSize());
    }
    return d.setEpoch(pass).splitByNode(rank, worldSize);
  }

  @Override
  public long numRows() {
    return spec.rowsPerRank();
  }

  @Override
  public Set<String> columns() {
    return COLUMNS;
  }

  /** Blocks skipped to reach the first row asked for (a resumed run's). */
  long skipped() {
    return skipped;
  }

  @Override
  public Map<String, NDArray> batch(NDManager manager, long[] rowIds) {
    int n = rowIds.length;
    if (n == 0) {
      throw new IllegalArgumentException("an empty batch of a stream");
    }
    for (int i = 0; i < n; i++) {
      if (rowIds[i] != rowIds[0] + i) {
        throw new IllegalStateException("a stream's rows are read in order: got rows " + rowIds[0] + ", then "
            + rowIds[i] + " (the Trainer must not shuffle a stream)");
      }
    }
    if (rowIds[0] < position) {
      throw new IllegalStateException("rank " + rank + ": the stream is at block " + position + ", row "
          + rowIds[0] + " was asked for: a stream does not go back");
    }
    while (position < rowIds[0]) {
      nextBlock();
      skipped++;
    }
    int w = spec.blockSize();
    long[] ids = new long[n * w];
    for (int i = 0; i < n; i++) {
      int[] block = nextBlock();
      for (int t = 0; t < w; t++) {
        ids[i * w + t] = block[t];
      }
    }
    long[] mask = new long[n * w];
    java.util.Arrays.fill(mask, 1);
    Shape shape = new Shape(n, w);
    Map<String, NDArray> out = new LinkedHashMap<>();
    out.put("input_ids", manager.create(ids, shape));
    out.put("attention_mask", manager.create(mask, shape));
    out.put("labels", manager.create(ids, shape));
    return out;
  }

  private int[] nextBlock() {
    while (pending.isEmpty()) {
      fill();
    }
    position++;
    return pending.poll();
  }

  /** Reads the next 1000 rows of the stream (fewer at the end of a pass) and groups them into blocks. */
  private void fill() {
    if (rows == null) {
      rows = open(spec, pass, rank, worldSize).iterator();
      passHadBlocks = false;
    }
    List<int[]> ids = new ArrayList<>();
    List<String> texts = new ArrayList<>();
    long read = 0;
    while (read < GroupTexts.BATCH_SIZE && rows.hasNext()) {
      Map<String, Object> row = rows.next();
      read++;
      if (tokenizer == null) {
        Object v = row.get("input_ids");
        try {
          ids.add(JobData.ints(v, "input_ids"));
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException(spec.what() + " (streamed on rank " + rank + "): " + e.getMessage(), e);
        }
      } else {
        Object v = row.get(spec.textColumn());
        texts.add(v == null ? "" : v.toString());
      }
    }
    if (tokenizer != null && !texts.isEmpty()) {
      tokenizer.encodeBatch(texts, 0, true).forEach(e -> ids.add(e.inputIds()));
    }
    List<int[]> blocks = SparkCausalLm.groupTexts(ids, spec.blockSize());
    pending.addAll(blocks);
    passHadBlocks |= !blocks.isEmpty();
    if (!rows.hasNext()) {
      closeRows();
      if (!passHadBlocks) {
        throw new IllegalArgumentException(spec.what() + ": rank " + rank + "'s part of the stream gives no block of "
            + spec.blockSize() + " tokens in a pass; give more text or a smaller data.block_size");
      }
      pass++;
    }
  }

  private void closeRows() {
    if (rows instanceof AutoCloseable c) {
      try {
        c.close();
      } catch (Exception e) {
        throw new IllegalStateException("cannot close the stream of " + spec.what(), e);
      }
    }
    rows = null;
  }

  @Override
  public void close() {
    closeRows();
    if (tokenizer != null) {
      tokenizer.close();
    }
  }
}
