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
 * of the stream.
 *
 * <p>Each checkpoint holds this rank's {@link #stateDict()}: the pass, the blocks handed out, the blocks of the
 * current 1000 rows not handed out yet (group_texts works on whole groups of rows, so these are kept as
 * tokens rather than re-read and re-tokenized) and the stream's own state ({@link IterableDataset#stateDict}).
 * A resumed run loads it and continues from there, reading none of the stream trained on before (but the
 * rows the shuffle buffer needs back). A checkpoint without one (written before states were recorded) is
 * resumed as transformers' Trainer resumes a stream: the blocks trained on are read again and skipped.
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
  private IterableDataset.StreamIterator rows;
  private Map<String, Object> resumeStream; // the stream state to open the next iterator at, once
  private String resumedFrom;
  private int pass;
  private boolean passHadBlocks;
  private long position; // blocks handed out or skipped
  private long skipped;
  private long rowsRead; // of iterators closed
  private long rowsReadToResume;

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

  /** Blocks skipped to reach the first row asked for (a resumed run's without a stream state). */
  long skipped() {
    return skipped;
  }

  /** Rows read from the files so far. */
  long rowsRead() {
    return rowsRead + (rows == null ? 0 : rows.rowsRead());
  }

  /** Rows read from the files only to reach a loaded stream state (see {@link IterableDataset}). */
  long rowsReadToResume() {
    return rowsReadToResume + (rows == null ? 0 : rows.rowsReadToResume());
  }

  @Override
  public Map<String, Object> stateDict() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("pass", pass);
    m.put("position", position);
    m.put("pass_had_blocks", passHadBlocks);
    m.put("block_size", spec.blockSize());
    List<List<Integer>> blocks = new ArrayList<>();
    for (int[] b : pending) {
      blocks.add(java.util.Arrays.stream(b).boxed().toList());
    }
    m.put("pending", blocks);
    m.put("stream", rows != null ? rows.stateDict() : resumeStream);
    return m;
  }

  @Override
  public void loadStateDict(Map<String, Object> state, String checkpoint) {
    String where = checkpoint + " (data state of rank " + rank + ")";
    if (rows != null || position > 0) {
      throw new IllegalStateException(where + ": a state is loaded before the first block is read");
    }
    long blockSize = whole(state, "block_size", where);
    if (blockSize != spec.blockSize()) {
      throw new IllegalArgumentException(where + ": key 'block_size': the checkpoint's blocks have " + blockSize
          + " tokens, data.block_size is " + spec.blockSize());
    }
    pass = (int) whole(state, "pass", where);
    position = whole(state, "position", where);
    if (!(state.get("pass_had_blocks") instanceof Boolean had)) {
      throw new IllegalArgumentException(where + ": key 'pass_had_blocks': expected true or false, got "
          + state.get("pass_had_blocks"));
    }
    passHadBlocks = had;
    if (!(state.get("pending") instanceof List<?> blocks)) {
      throw new IllegalArgumentException(where + ": key 'pending': expected a list of blocks, got "
          + state.get("pending"));
    }
    pending.clear();
    for (int i = 0; i < blocks.size(); i++) {
      if (!(blocks.get(i) instanceof List<?> b) || b.size() != spec.blockSize()
          || !b.stream().allMatch(t -> t instanceof Integer)) {
        throw new IllegalArgumentException(where + ": key 'pending[" + i + "]': expected " + spec.blockSize()
            + " token ids, got " + blocks.get(i));
      }
      pending.add(b.stream().mapToInt(t -> (Integer) t).toArray());
    }
    Object stream = state.get("stream");
    if (stream != null && !(stream instanceof Map<?, ?>)) {
      throw new IllegalArgumentException(where + ": key 'stream': expected an object or null, got " + stream);
    }
    @SuppressWarnings("unchecked")
    Map<String, Object> s = (Map<String, Object>) stream;
    resumeStream = s;
    resumedFrom = where;
  }

  private static long whole(Map<String, Object> state, String key, String where) {
    Object v = state.get(key);
    if (v instanceof Integer || v instanceof Long) {
      long n = ((Number) v).longValue();
      if (n >= 0) {
        return n;
      }
    }
    throw new IllegalArgumentException(where + ": key '" + key + "': expected a whole number >= 0, got " + v);
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
      IterableDataset d = open(spec, pass, rank, worldSize);
      if (resumeStream != null) {
        try {
          rows = d.loadStateDict(resumeStream).iterator(); // the pass resumed keeps what it had
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException(resumedFrom + ": " + e.getMessage(), e);
        }
        resumeStream = null;
      } else {
        rows = d.iterator();
        passHadBlocks = false;
      }
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
    if (rows != null) {
      rowsRead += rows.rowsRead();
      rowsReadToResume += rows.rowsReadToResume();
      rows.close();
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
