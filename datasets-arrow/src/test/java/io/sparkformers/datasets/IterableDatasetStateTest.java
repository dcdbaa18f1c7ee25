package io.sparkformers.datasets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * stateDict / loadStateDict: an iteration stopped after any k examples, its state sent through JSON and loaded
 * into a dataset built anew, continues with exactly the examples the uninterrupted iteration gives after k,
 * without reading the shards before the saved one.
 */
class IterableDatasetStateTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int[] LENGTHS = {7, 5, 9, 6}; // 27 rows in 4 files

  @TempDir Path dir;
  @TempDir Path other;

  private IterableDataset files(Path where) throws IOException {
    for (int f = 0; f < LENGTHS.length; f++) {
      StringBuilder s = new StringBuilder();
      for (int i = 0; i < LENGTHS[f]; i++) {
        s.append("{\"f\": ").append(f).append(", \"i\": ").append(i).append("}\n");
      }
      Files.writeString(where.resolve("part-" + f + ".jsonl"), s);
    }
    return IterableDataset.fromFiles(DataFormat.JSON, LoadOptions.defaults(), where + "/*.jsonl");
  }

  private static String id(Map<String, Object> row) {
    return row.get("f") + ":" + row.get("i");
  }

  private static List<String> all(IterableDataset d) {
    return d.toList().stream().map(IterableDatasetStateTest::id).toList();
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> throughJson(Map<String, Object> state) throws IOException {
    return JSON.readValue(JSON.writeValueAsString(state), Map.class);
  }

  /** Takes k examples (calling hasNext before each, as a for-each loop does) and returns the state. */
  private static Map<String, Object> after(IterableDataset d, int k, List<String> taken) throws IOException {
    try (IterableDataset.StreamIterator it = d.iterator()) {
      for (int i = 0; i < k; i++) {
        assertTrue(it.hasNext());
        taken.add(id(it.next()));
      }
      it.hasNext(); // a look-ahead is not part of the state
      return throughJson(it.stateDict());
    }
  }

  /** The rest of {@code fresh} loaded with the state after k, and how many rows it read to resume. */
  private static long[] resumeEqualsUninterrupted(Supplier<IterableDataset> build, String what) throws IOException {
    List<String> whole = all(build.get());
    long maxReread = 0;
    long readForLast = 0;
    for (int k = 0; k <= whole.size(); k++) {
      List<String> got = new ArrayList<>();
      Map<String, Object> state = after(build.get(), k, got);
      try (IterableDataset.StreamIterator it = build.get().loadStateDict(state).iterator()) {
        it.forEachRemaining(r -> got.add(id(r)));
        maxReread = Math.max(maxReread, it.rowsReadToResume());
        readForLast = it.rowsRead();
      }
      assertEquals(whole, got, what + ", resumed after " + k + " examples");
    }
    return new long[] {maxReread, readForLast};
  }

  @Test
  void unshuffledFilesResumeAtTheSavedByteOfTheSavedFile() throws IOException {
    long[] r = resumeEqualsUninterrupted(() -> uncheck(() -> files(dir)), "4 files");
    assertEquals(0, r[0], "JSON lines are resumed at their byte offset: no row is read again");
    assertEquals(0, r[1], "resumed at the end, nothing is read");
    // After the first file and 2 rows of the second: the second file from its third line.
    IterableDataset d = files(dir);
    Map<String, Object> state = after(d, 9, new ArrayList<>());
    @SuppressWarnings("unchecked")
    Map<String, Object> at = (Map<String, Object>) state.get("examples_iterable");
    long twoLines = "{\"f\": 1, \"i\": 0}\n{\"f\": 1, \"i\": 1}\n".length();
    assertEquals(Map.of("kind", "shards", "shard_idx", 1, "shard_example_idx", 2, "shard_byte_offset",
        (int) twoLines, "shard_line", 2), at);
    try (IterableDataset.StreamIterator it = d.loadStateDict(state).iterator()) {
      assertEquals("1:2", id(it.next()));
      assertEquals(0, it.rowsReadToResume());
      assertEquals(1, it.rowsRead());
    }
    // CSV has no byte offsets here: the saved file is read past its taken rows, the files before it not at all.
    for (int f = 0; f < 2; f++) {
      StringBuilder csv = new StringBuilder("f,i\n");
      for (int i = 0; i < 6; i++) {
        csv.append(f).append(',').append(i).append('\n');
      }
      Files.writeString(other.resolve("t" + f + ".csv"), csv);
    }
    long[] c = resumeEqualsUninterrupted(() -> IterableDataset.fromFiles(DataFormat.CSV, LoadOptions.defaults(),
        other + "/*.csv"), "2 CSV files");
    assertEquals(5, c[0], "at most the rows of one file but its last are read again");
    // A .gz file is moved to its offset by decompressing up to it; no row is parsed again.
    Path gz = Files.createDirectories(other.resolve("gz"));
    for (int f = 0; f < 2; f++) {
      try (var out = new java.util.zip.GZIPOutputStream(Files.newOutputStream(gz.resolve("p" + f + ".jsonl.gz")))) {
        out.write(Files.readAllBytes(dir.resolve("part-" + f + ".jsonl")));
      }
    }
    long[] z = resumeEqualsUninterrupted(() -> IterableDataset.fromFiles(DataFormat.JSON, LoadOptions.defaults(),
        gz + "/*.jsonl.gz"), "2 gzip files");
    assertEquals(0, z[0]);
    // At a file boundary the state names the next file: nothing is read again.
    state = after(d, 7, new ArrayList<>());
    assertEquals(1, ((Map<?, ?>) state.get("examples_iterable")).get("shard_idx"));
    try (IterableDataset.StreamIterator it = d.loadStateDict(state).iterator()) {
      assertEquals("1:0", id(it.next()));
      assertEquals(0, it.rowsReadToResume());
    }
  }

  @Test
  void aShuffleBufferIsRebuiltExactlyWithoutLosingOrRepeatingAnExample() throws IOException {
    // Buffer of 4 (full most of the time), and one larger than the stream (drained only).
    long[] small = resumeEqualsUninterrupted(() -> uncheck(() -> files(dir)).shuffle(3, 4), "buffer 4");
    resumeEqualsUninterrupted(() -> uncheck(() -> files(dir)).shuffle(3, 50), "buffer 50");
    assertTrue(small[0] < 27, "the replay reads from the oldest buffered row only, at most " + small[0]);
    // A state handed out is the caller's: changing it changes nothing of the iteration.
    try (IterableDataset.StreamIterator it = files(dir).shuffle(3, 4).iterator()) {
      it.next();
      Map<String, Object> first = it.stateDict();
      Map<?, ?> buffer = (Map<?, ?>) first.get("examples_iterable");
      ((Map<?, ?>) buffer.get("replay_from")).clear();
      ((List<?>) buffer.get("buffer_rows")).clear();
      assertEquals(throughJson(it.stateDict()), throughJson(it.stateDict()));
      assertEquals(4, ((List<?>) ((Map<?, ?>) it.stateDict().get("examples_iterable")).get("buffer_rows")).size());
    }
    // Inside the first fill of the buffer (k = 2 < 4 rows buffered): the rows buffered are read again, no more.
    IterableDataset d = files(dir).shuffle(3, 4);
    Map<String, Object> state = after(d, 2, new ArrayList<>());
    try (IterableDataset.StreamIterator it = d.loadStateDict(state).iterator()) {
      it.next();
      Map<?, ?> buffer = (Map<?, ?>) state.get("examples_iterable");
      long replayed = (Integer) buffer.get("rows_in") - (Integer) buffer.get("replay_from_row");
      // The replay starts at the oldest buffered row's byte in its file and reads the rows since it.
      assertEquals(replayed, it.rowsReadToResume());
      assertTrue(replayed <= 6, "rows since the oldest buffered one: " + replayed);
    }
  }

  @Test
  void transformsSplitsAndEpochsResume() throws IOException {
    // 4 files on 2 ranks: whole files each; on 3 ranks: every 3rd example.
    for (int r = 0; r < 2; r++) {
      int rank = r;
      resumeEqualsUninterrupted(() -> uncheck(() -> files(dir)).shuffle(5, 3).splitByNode(rank, 2), "rank " + r
          + " of 2");
    }
    for (int r = 0; r < 3; r++) {
      int rank = r;
      resumeEqualsUninterrupted(() -> uncheck(() -> files(dir)).shuffle(5, 3).splitByNode(rank, 3), "rank " + r
          + " of 3");
    }
    resumeEqualsUninterrupted(() -> uncheck(() -> files(dir)).filter(x -> (Long) x.get("i") % 3 != 1)
        .map(x -> Map.of("i", (Long) x.get("i") * 10)).shuffle(9, 5).skip(2).take(12), "filter map skip take");
    // A state of epoch 1 sets the epoch of the dataset it is loaded into.
    IterableDataset epoch1 = files(dir).shuffle(5, 3).setEpoch(1);
    List<String> whole = all(epoch1);
    assertTrue(!whole.equals(all(files(dir).shuffle(5, 3))), "epoch 1 draws another order");
    List<String> got = new ArrayList<>();
    Map<String, Object> state = after(epoch1, 11, got);
    IterableDataset loaded = files(dir).shuffle(5, 3).loadStateDict(state);
    assertEquals(1, loaded.epoch());
    got.addAll(all(loaded));
    assertEquals(whole, got);
    // The next epoch starts at its beginning.
    assertEquals(all(files(dir).shuffle(5, 3).setEpoch(2)), all(loaded.setEpoch(2)));
    // A dataset read in memory resumes at its row directly.
    List<Map<String, Object>> rows = new ArrayList<>();
    for (long i = 0; i < 10; i++) {
      rows.add(Map.of("f", 9L, "i", i));
    }
    Dataset table = Dataset.fromRows(Features.builder().add("f", ColumnType.INT64).add("i", ColumnType.INT64).build(),
        rows, other);
    resumeEqualsUninterrupted(() -> IterableDataset.fromDataset(table, 3), "a table in 3 shards");
  }

  @Test
  void aStateOfAnotherDatasetIsRefusedNamingWhatDiffers() throws IOException {
    IterableDataset d = files(dir).shuffle(3, 4);
    Map<String, Object> state = after(d, 10, new ArrayList<>());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> files(other).shuffle(3, 4).loadStateDict(state));
    assertEquals("stream state key 'shards': the state was saved over other files: shard 0 is 'file:" + dir
        + "/part-0.jsonl' in the state, 'file:" + other + "/part-0.jsonl' here", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> files(dir).shuffle(4, 4).loadStateDict(state));
    assertEquals("stream state key 'shuffle_seed': the state was saved with seed 3, this dataset shuffles with"
        + " seed 4", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> files(dir).loadStateDict(state));
    assertEquals("stream state key 'shuffle_seed': the state was saved with seed 3, this dataset is not shuffled",
        e.getMessage());
    IterableDataset bigger = files(dir).shuffle(3, 8).loadStateDict(state);
    e = assertThrows(IllegalArgumentException.class, bigger::iterator);
    assertEquals("stream state key 'examples_iterable.buffer_size': the state was saved with a shuffle buffer of 4,"
        + " this dataset shuffles with a buffer of 8", e.getMessage());
    IterableDataset mapped = files(dir).map(x -> Map.of()).shuffle(3, 4).loadStateDict(state);
    e = assertThrows(IllegalArgumentException.class, mapped::iterator);
    assertEquals("stream state key 'examples_iterable.replay_from.kind': the state has 'shards' where this dataset"
        + " has 'map': it was saved from a dataset built with other transforms", e.getMessage());
    Map<String, Object> split = after(files(dir).splitByNode(1, 2), 3, new ArrayList<>());
    e = assertThrows(IllegalArgumentException.class, () -> files(dir).splitByNode(1, 4).loadStateDict(split));
    assertEquals("stream state keys 'rank', 'world_size': the state was saved by rank 1 of 2, this dataset is split"
        + " for rank 1 of 4: a stream split by node resumes on the same number of ranks only (a rank's state holds"
        + " its own shards' positions, not the other ranks')", e.getMessage());
    // A corrupted entry names its key and what was expected.
    Map<String, Object> plain = after(files(dir), 3, new ArrayList<>());
    @SuppressWarnings("unchecked")
    Map<String, Object> at = (Map<String, Object>) plain.get("examples_iterable");
    at.put("shard_idx", "two");
    IterableDataset corrupt = files(dir).loadStateDict(plain);
    e = assertThrows(IllegalArgumentException.class, corrupt::iterator);
    assertEquals("stream state key 'examples_iterable.shard_idx': expected a whole number in [0, 4], got 'two'",
        e.getMessage());
    at.put("shard_idx", 0);
    at.put("shard_byte_offset", 10_000);
    IterableDataset pastTheEnd = files(dir).loadStateDict(plain);
    e = assertThrows(IllegalArgumentException.class, () -> pastTheEnd.toList());
    long size = Files.size(dir.resolve("part-0.jsonl"));
    assertEquals("stream state: file:" + dir + "/part-0.jsonl has " + size + " bytes, the state resumes at byte"
        + " 10000 of it: the file changed since the state was saved", e.getMessage());
    at.put("shard_byte_offset", null); // without an offset the taken rows are read past
    at.put("shard_example_idx", 8);
    IterableDataset pastTheLastRow = files(dir).loadStateDict(plain);
    e = assertThrows(IllegalArgumentException.class, () -> pastTheLastRow.toList());
    assertEquals("stream state: file:" + dir + "/part-0.jsonl has 7 examples, the state resumes after example 8"
        + " of it: the file changed since the state was saved", e.getMessage());
    at.remove("shard_example_idx");
    e = assertThrows(IllegalArgumentException.class, () -> files(dir).loadStateDict(plain).iterator());
    assertEquals("stream state key 'examples_iterable.shard_example_idx' is missing; the entry has [kind,"
        + " shard_idx, shard_byte_offset, shard_line]", e.getMessage());
  }

  @Test
  void parquetResumesAtTheRowGroupOfTheSavedExample() throws IOException {
    org.apache.parquet.schema.MessageType schema = org.apache.parquet.schema.MessageTypeParser.parseMessageType(
        "message m { required int64 f; required int64 i; }");
    for (int f = 0; f < 2; f++) {
      // Row groups of a few rows each, so that a resume has whole groups to skip.
      try (org.apache.parquet.hadoop.ParquetWriter<org.apache.parquet.example.data.Group> w =
          org.apache.parquet.hadoop.example.ExampleParquetWriter.builder(new org.apache.hadoop.fs.Path(
              other.resolve("p" + f + ".parquet").toUri())).withType(schema).withRowGroupSize(64L)
              .withPageSize(64).withMinRowCountForPageSizeCheck(1).withMaxRowCountForPageSizeCheck(1).build()) {
        org.apache.parquet.example.data.simple.SimpleGroupFactory groups =
            new org.apache.parquet.example.data.simple.SimpleGroupFactory(schema);
        for (long i = 0; i < 30; i++) {
          w.write(groups.newGroup().append("f", (long) f).append("i", i));
        }
      }
    }
    Supplier<IterableDataset> parquet = () -> IterableDataset.fromFiles(DataFormat.PARQUET, LoadOptions.defaults(),
        other + "/*.parquet");
    resumeEqualsUninterrupted(parquet, "2 Parquet files");
    resumeEqualsUninterrupted(() -> parquet.get().shuffle(2, 5), "2 Parquet files, shuffled");
    Map<String, Object> state = after(parquet.get(), 25, new ArrayList<>());
    try (IterableDataset.StreamIterator it = parquet.get().loadStateDict(state).iterator()) {
      assertEquals("0:25", id(it.next()));
      assertTrue(it.rowsReadToResume() < 25, "the row groups before row 25 are skipped undecoded; read again: "
          + it.rowsReadToResume());
    }
  }

  @Test
  void aBadLineAfterTheResumedOffsetIsNamedByItsLineInTheFile() throws IOException {
    Path f = dir.resolve("bad.jsonl");
    Files.writeString(f, "{\"n\": 1}\n{\"n\": 2}\n\n{\"n\": 3}\n{\"n\": \"x\"}\n");
    IterableDataset d = IterableDataset.fromFiles(DataFormat.JSON,
        LoadOptions.builder().features(Features.of("n", ColumnType.INT64)).build(), f.toString());
    Map<String, Object> state;
    try (IterableDataset.StreamIterator it = d.iterator()) {
      it.next();
      it.next();
      state = it.stateDict();
    }
    try (IterableDataset.StreamIterator it = d.loadStateDict(state).iterator()) {
      assertEquals(Map.of("n", 3L), it.next());
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, it::hasNext);
      assertEquals("file:" + f + ": line 5: key 'n': \"x\" is not a valid INT64", e.getMessage());
    }
  }

  private interface IoSupplier<T> {
    T get() throws IOException;
  }

  private static <T> T uncheck(IoSupplier<T> s) {
    try {
      return s.get();
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
