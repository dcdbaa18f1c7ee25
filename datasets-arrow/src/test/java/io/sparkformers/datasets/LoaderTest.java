package io.sparkformers.datasets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LoaderTest {
  @TempDir Path dir;
  @TempDir Path cache;

  private Path write(String name, String content) throws IOException {
    Path p = dir.resolve(name);
    Files.createDirectories(p.getParent());
    Files.writeString(p, content, StandardCharsets.UTF_8);
    return p;
  }

  private LoadOptions options() {
    return LoadOptions.builder().cacheDir(cache).build();
  }

  private Dataset load(DataFormat f, Path... paths) {
    return Dataset.load(f, options(), Arrays.stream(paths).map(Path::toString).toArray(String[]::new));
  }

  @Test
  void csvInfersTypesLikePandasAndHandlesQuoting() throws IOException {
    Path csv = write("a.csv", "id,score,ok,text,maybe\n"
        + "1,0.5,True,\"hello, world\",3\n"
        + "\n"
        + "-2,1e3,false,\"say \"\"hi\"\"\nand bye\",\n"
        + "3,7,TRUE,NA,5\n");
    try (Dataset d = load(DataFormat.CSV, csv)) {
      assertEquals(Features.of("id", ColumnType.INT64, "score", ColumnType.FLOAT64, "ok", ColumnType.BOOL,
          "text", ColumnType.STRING, "maybe", ColumnType.FLOAT64), d.features());
      assertEquals(List.of(1L, -2L, 3L), d.column("id"));
      assertEquals(List.of(0.5, 1000.0, 7.0), d.column("score"));
      assertEquals(List.of(true, false, true), d.column("ok"));
      assertEquals(Arrays.asList("hello, world", "say \"hi\"\nand bye", null), d.column("text"));
      assertEquals(Arrays.asList(3.0, null, 5.0), d.column("maybe"));
    }
  }

  @Test
  void csvWithDelimiterExplicitSchemaAndNoHeader() throws IOException {
    Path tsv = write("a.tsv", "x\t'a\tb'\n2\tc\n");
    LoadOptions o = LoadOptions.builder().cacheDir(cache).delimiter('\t').quote('\'').header(false)
        .columnNames(List.of("n", "s")).features(Features.of("n", ColumnType.INT32, "s", ColumnType.STRING)).build();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Dataset.load(DataFormat.CSV, o, tsv.toString()));
    assertEquals(uri(tsv) + ": line 1: column 'n': 'x' is not a valid"
        + " INT32", e.getMessage());
    Files.writeString(tsv, "1\t'a\tb'\n2\tc\n");
    try (Dataset d = Dataset.load(DataFormat.CSV, o, tsv.toString())) {
      assertEquals(List.of(1, 2), d.column("n"));
      assertEquals(List.of("a\tb", "c"), d.column("s"));
    }
  }

  private static String uri(Path p) {
    return "file:" + p.toAbsolutePath();
  }

  @Test
  void malformedCsvNamesTheFileAndLine() throws IOException {
    Path csv = write("bad.csv", "a,b\n1,2\n3,4,5\n");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> load(DataFormat.CSV, csv));
    assertEquals(uri(csv) + ": line 3: expected 2 fields (as in the header), found 3", e.getMessage());
    Path open = write("open.csv", "a,b\n1,\"2\n3,4\n");
    e = assertThrows(IllegalArgumentException.class, () -> load(DataFormat.CSV, open));
    assertEquals(uri(open) + ": line 2: a quoted field is not closed before the end of the file", e.getMessage());
  }

  @Test
  void aByteThatIsNotUtf8IsReportedWithItsOffset() throws IOException {
    Path csv = dir.resolve("latin1.csv");
    byte[] bytes = "a\nok\ncaf\u00e9\n".getBytes(StandardCharsets.ISO_8859_1);
    Files.write(csv, bytes);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> load(DataFormat.CSV, csv));
    assertEquals(uri(csv) + ": line 3: byte 0xE9 at offset 8 is not valid UTF-8", e.getMessage());
    Path jsonl = dir.resolve("latin1.jsonl");
    Files.write(jsonl, "{\"t\": \"caf\u00e9\"}\n".getBytes(StandardCharsets.ISO_8859_1));
    e = assertThrows(IllegalArgumentException.class, () -> load(DataFormat.JSON, jsonl));
    assertEquals(uri(jsonl) + ": line 1: byte 0xE9 at offset 10 is not valid UTF-8", e.getMessage());
  }

  @Test
  void jsonLinesAndJsonArraysLoadWithPyarrowTypes() throws IOException {
    Path lines = write("a.jsonl", "{\"text\": \"x\", \"n\": 1, \"ids\": [1, 2]}\n\n{\"n\": 2.5, \"text\": null, \"f\": true}\n");
    Path array = write("b.json", "[\n {\"text\": \"y\", \"n\": 3, \"ids\": [], \"f\": false}\n]");
    try (Dataset d = load(DataFormat.JSON, lines, array)) {
      assertEquals(Features.of("text", ColumnType.STRING, "n", ColumnType.FLOAT64, "ids", ColumnType.INT64_LIST,
          "f", ColumnType.BOOL), d.features());
      assertEquals(Arrays.asList("x", null, "y"), d.column("text"));
      assertEquals(List.of(1.0, 2.5, 3.0), d.column("n"));
      assertArrayEquals(new long[] {1, 2}, (long[]) d.get(0, "ids"));
      assertEquals(null, d.get(1, "ids"));
      assertArrayEquals(new long[0], (long[]) d.get(2, "ids"));
      assertEquals(Arrays.asList(null, true, false), d.column("f"));
    }
  }

  @Test
  void malformedJsonNamesTheFileLineAndColumn() throws IOException {
    Path bad = write("bad.jsonl", "{\"a\": 1}\n{\"a\": 2,,}\n");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> load(DataFormat.JSON, bad));
    assertTrue(e.getMessage().startsWith(uri(bad) + ": line 2, column 9: invalid JSON: Unexpected character"),
        e.getMessage());
    Path nested = write("nested.jsonl", "{\"a\": {\"b\": 1}}\n");
    e = assertThrows(IllegalArgumentException.class, () -> load(DataFormat.JSON, nested));
    assertEquals(uri(nested) + ": line 1: key 'a' holds a JSON object; nested objects are not supported",
        e.getMessage());
    // A list of records (a chat's messages) is kept as its JSON text.
    Path chats = write("chats.jsonl", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n"
        + "{\"messages\": \"plain\"}\n");
    try (Dataset d = load(DataFormat.JSON, chats)) {
      assertEquals(ColumnType.STRING, d.features().type("messages"));
      assertEquals(List.of("[{\"role\":\"user\",\"content\":\"hi\"}]", "plain"), d.column("messages"));
    }
    Path mixed = write("mixed.jsonl", "{\"a\": 1}\n{\"a\": \"one\"}\n");
    e = assertThrows(IllegalArgumentException.class, () -> load(DataFormat.JSON, mixed));
    assertEquals(uri(mixed) + ": line 2: key 'a' holds a STRING value where earlier rows hold INT64",
        e.getMessage());
  }

  @Test
  void aColumnMissingOrTypedDifferentlyInAnotherFileNamesBothFiles() throws IOException {
    Path a = write("a.csv", "x,y\n1,2\n");
    Path b = write("b.csv", "x\n3\n");
    Path c = write("c.csv", "x,y\n1,two\n");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> load(DataFormat.CSV, a, b));
    assertEquals("Column 'y' is in " + uri(a) + " but missing in " + uri(b), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> load(DataFormat.CSV, a, c));
    assertEquals("Column 'y' is INT64 in " + uri(a) + " but STRING in " + uri(c), e.getMessage());
  }

  @Test
  void anEmptyInputIsAnEmptyDataset() throws IOException {
    Path empty = write("empty.jsonl", "");
    try (Dataset d = load(DataFormat.JSON, empty)) {
      assertEquals(0, d.numRows());
      assertEquals(List.of(), d.columnNames());
    }
    Path headerOnly = write("h.csv", "a,b\n");
    try (Dataset d = load(DataFormat.CSV, headerOnly)) {
      assertEquals(0, d.numRows());
      assertEquals(List.of("a", "b"), d.columnNames());
    }
  }

  @Test
  void textGlobsAndFoldersLoadInPathOrder() throws IOException {
    write("texts/b.txt", "third\n\nfifth");
    write("texts/a.txt", "first\r\nsecond\n");
    write("texts/.hidden.txt", "never\n");
    try (Dataset folder = load(DataFormat.TEXT, dir.resolve("texts"));
        Dataset glob = Dataset.load(DataFormat.TEXT, options(), dir.resolve("texts") + "/*.txt")) {
      assertEquals(List.of("first", "second", "third", "", "fifth"), folder.column("text"));
      assertEquals(folder.column("text"), glob.column("text"));
      assertEquals(folder.fingerprint(), glob.fingerprint());
    }
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> load(DataFormat.TEXT, dir.resolve("nothing-*.txt")));
    assertEquals("No file found at " + dir.resolve("nothing-*.txt"), e.getMessage());
  }

  @Test
  void aSecondIdenticalLoadReusesTheCacheAndAChangedFileDoesNot() throws IOException {
    Path csv = write("a.csv", "x\n1\n2\n");
    String first;
    Path firstFile;
    FileTime written;
    try (Dataset d = load(DataFormat.CSV, csv)) {
      first = d.fingerprint();
      firstFile = d.files().get(0);
      written = Files.getLastModifiedTime(firstFile);
    }
    try (Dataset d = load(DataFormat.CSV, csv)) {
      assertEquals(first, d.fingerprint());
      assertEquals(firstFile, d.files().get(0));
      assertEquals(written, Files.getLastModifiedTime(firstFile));
    }
    Files.writeString(csv, "x\n1\n2\n3\n");
    try (Dataset d = load(DataFormat.CSV, csv)) {
      assertTrue(!first.equals(d.fingerprint()));
      assertEquals(List.of(1L, 2L, 3L), d.column("x"));
    }
  }

  @Test
  void datasetDictLoadsNamedSplits() throws IOException {
    Path train = write("train.jsonl", "{\"a\": 1}\n{\"a\": 2}\n");
    Path test = write("test.jsonl", "{\"a\": 3}\n");
    try (DatasetDict dd = DatasetDict.load(DataFormat.JSON, options(),
        Map.of("train", List.of(train.toString()), "test", List.of(test.toString())))) {
      assertEquals(List.of(1L, 2L), dd.get("train").column("a"));
      assertEquals(List.of(3L), dd.get("test").column("a"));
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> dd.get("validation"));
      assertTrue(e.getMessage().startsWith("No split 'validation'; splits are "));
    }
  }

  @Test
  void csvToArrowToCsvIsLossless() throws IOException {
    String original = "name,count,ratio\n\"a, b\",1,0.25\nc\"d,-3,1e-05\n";
    Path csv = write("round.csv", original);
    try (Dataset d = load(DataFormat.CSV, csv)) {
      Path back = dir.resolve("back.csv");
      DatasetWriters.writeCsv(d, back);
      try (Dataset again = load(DataFormat.CSV, back)) {
        assertEquals(d.features(), again.features());
        for (String c : d.columnNames()) {
          assertEquals(d.column(c), again.column(c));
        }
      }
      assertEquals("name,count,ratio\n\"a, b\",1,0.25\n\"c\"\"d\",-3,1.0E-5\n", Files.readString(back));
    }
  }

  @Test
  void arrowFilesAndStreamsLoad() throws IOException {
    org.apache.arrow.vector.types.pojo.Schema schema = Features.of("id", ColumnType.INT32, "ids",
        ColumnType.INT64_LIST).toArrow();
    Path file = dir.resolve("a.arrow");
    Path stream = dir.resolve("b.arrows");
    try (org.apache.arrow.memory.BufferAllocator allocator = new org.apache.arrow.memory.RootAllocator();
        org.apache.arrow.vector.VectorSchemaRoot root = org.apache.arrow.vector.VectorSchemaRoot.create(schema,
            allocator)) {
      for (Path p : List.of(file, stream)) {
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(p,
                java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.WRITE);
            org.apache.arrow.vector.ipc.ArrowWriter w = p == file
                ? new org.apache.arrow.vector.ipc.ArrowFileWriter(root, null, ch)
                : new org.apache.arrow.vector.ipc.ArrowStreamWriter(root, null, ch)) {
          w.start();
          root.allocateNew();
          int base = p == file ? 0 : 10;
          for (int i = 0; i < 2; i++) {
            io.sparkformers.datasets.internal.ArrowValues.set(root.getVector(0), ColumnType.INT32, i, base + i);
            io.sparkformers.datasets.internal.ArrowValues.set(root.getVector(1), ColumnType.INT64_LIST, i,
                List.of((long) base + i, 7L));
          }
          root.setRowCount(2);
          w.writeBatch();
          w.end();
        }
      }
    }
    try (Dataset d = load(DataFormat.ARROW, file, stream)) {
      assertEquals(Features.of("id", ColumnType.INT32, "ids", ColumnType.INT64_LIST), d.features());
      assertEquals(List.of(0, 1, 10, 11), d.column("id"));
      assertArrayEquals(new long[] {11, 7}, (long[]) d.get(3, "ids"));
    }
  }

  @Test
  void parquetFilesLoadWithTheirTypes() throws IOException {
    org.apache.parquet.schema.MessageType schema = org.apache.parquet.schema.MessageTypeParser.parseMessageType(
        "message m { required int64 id; optional binary text (STRING); optional double score;"
            + " optional group ids (LIST) { repeated group list { optional int32 element; } } }");
    Path file = dir.resolve("p.parquet");
    try (org.apache.parquet.hadoop.ParquetWriter<org.apache.parquet.example.data.Group> w =
        org.apache.parquet.hadoop.example.ExampleParquetWriter.builder(
            new org.apache.hadoop.fs.Path(file.toUri())).withType(schema).build()) {
      org.apache.parquet.example.data.simple.SimpleGroupFactory groups =
          new org.apache.parquet.example.data.simple.SimpleGroupFactory(schema);
      org.apache.parquet.example.data.Group g = groups.newGroup().append("id", 1L).append("text", "héllo")
          .append("score", 0.5);
      org.apache.parquet.example.data.Group list = g.addGroup("ids");
      list.addGroup("list").append("element", 3);
      list.addGroup("list").append("element", 4);
      w.write(g);
      w.write(groups.newGroup().append("id", 2L));
    }
    try (Dataset d = load(DataFormat.PARQUET, file)) {
      assertEquals(Features.of("id", ColumnType.INT64, "text", ColumnType.STRING, "score", ColumnType.FLOAT64,
          "ids", ColumnType.INT32_LIST), d.features());
      assertEquals(List.of(1L, 2L), d.column("id"));
      assertEquals(Arrays.asList("héllo", null), d.column("text"));
      assertEquals(Arrays.asList(0.5, null), d.column("score"));
      assertArrayEquals(new int[] {3, 4}, (int[]) d.get(0, "ids"));
      assertEquals(null, d.get(1, "ids"));
    }
  }
}
