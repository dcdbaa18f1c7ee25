package io.sparkformers.it.datasets;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.sparkformers.datasets.ColumnType;
import io.sparkformers.datasets.DataFormat;
import io.sparkformers.datasets.Dataset;
import io.sparkformers.datasets.Features;
import io.sparkformers.datasets.IterableDataset;
import io.sparkformers.datasets.LoadOptions;
import io.sparkformers.it.S3ProxyServer;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading and streaming s3a:// files through Hadoop's S3A against a real S3 server (s3proxy). */
class S3DatasetsIT {
  @TempDir Path dir;

  @Test
  void loadAndStreamJsonLinesAndCsvFromS3a() throws Exception {
    try (S3ProxyServer s3 = S3ProxyServer.start(dir.resolve("s3"))) {
      s3.createBucket("data");
      Configuration conf = new Configuration();
      s3.hadoopConfiguration().forEach(conf::set);
      Path local = Files.createDirectories(dir.resolve("local"));
      Files.writeString(local.resolve("part-0.jsonl"), "{\"text\": \"héllo\", \"label\": 1}\n{\"text\": \"b\", \"label\": 0}\n");
      Files.writeString(local.resolve("part-1.jsonl"), "{\"text\": \"c\", \"label\": 1}\n");
      Files.writeString(local.resolve("t.csv"), "x,y\n1,a\n2,\"b,c\"\n");
      try (FileSystem fs = FileSystem.newInstance(URI.create("s3a://data/"), conf)) {
        for (String f : List.of("part-0.jsonl", "part-1.jsonl")) {
          fs.copyFromLocalFile(new org.apache.hadoop.fs.Path(local.resolve(f).toUri()),
              new org.apache.hadoop.fs.Path("s3a://data/train/" + f));
        }
        fs.copyFromLocalFile(new org.apache.hadoop.fs.Path(local.resolve("t.csv").toUri()),
            new org.apache.hadoop.fs.Path("s3a://data/t.csv"));
      }
      LoadOptions options = LoadOptions.builder().cacheDir(dir.resolve("cache"))
          .hadoopConfiguration(s3.hadoopConfiguration()).build();
      try (Dataset d = Dataset.load(DataFormat.JSON, options, "s3a://data/train/*.jsonl");
          Dataset folder = Dataset.load(DataFormat.JSON, options, "s3a://data/train");
          Dataset csv = Dataset.load(DataFormat.CSV, options, "s3a://data/t.csv")) {
        assertEquals(Features.of("text", ColumnType.STRING, "label", ColumnType.INT64), d.features());
        assertEquals(List.of("héllo", "b", "c"), d.column("text"));
        assertEquals(List.of(1L, 0L, 1L), d.column("label"));
        assertEquals(d.fingerprint(), folder.fingerprint());
        assertEquals(List.of("a", "b,c"), csv.column("y"));
      }
      IterableDataset streamed = IterableDataset.fromFiles(DataFormat.JSON, options, "s3a://data/train/*.jsonl");
      assertEquals(2, streamed.numShards());
      List<Object> texts = new ArrayList<>();
      for (Map<String, Object> row : streamed.toList()) {
        texts.add(row.get("text"));
      }
      assertEquals(List.of("héllo", "b", "c"), texts);
      // Resumed from its state after one row: the file is opened at the byte after it (a seek on S3A).
      Map<String, Object> state;
      try (IterableDataset.StreamIterator it = streamed.iterator()) {
        it.next();
        state = it.stateDict();
      }
      try (IterableDataset.StreamIterator it = streamed.loadStateDict(state).iterator()) {
        assertEquals("b", it.next().get("text"));
        assertEquals("c", it.next().get("text"));
        assertEquals(0, it.rowsReadToResume());
      }
    }
  }
}
