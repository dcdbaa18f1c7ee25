package io.sparkformers.datasets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Files ending in .gz are read decompressed, as Hugging Face datasets reads them. */
class CompressedFilesTest {
  @TempDir Path tmp;

  @Test
  void aGzippedCsvLoadsAsThePlainOne() throws Exception {
    String csv = "a,b\n1,x\n2,y\n3,z\n";
    Path plain = tmp.resolve("t.csv");
    Files.writeString(plain, csv);
    Path gz = tmp.resolve("t.csv.gz");
    try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(gz))) {
      out.write(csv.getBytes(StandardCharsets.UTF_8));
    }
    LoadOptions options = LoadOptions.builder().cacheDir(tmp.resolve("cache")).build();
    try (Dataset a = Dataset.load(DataFormat.CSV, options, plain.toString());
        Dataset b = Dataset.load(DataFormat.CSV, options, gz.toString())) {
      assertEquals(3, b.numRows());
      assertEquals(a.features(), b.features());
      for (long i = 0; i < 3; i++) {
        assertEquals(a.row(i), b.row(i));
      }
    }
  }

  @Test
  void aGzNameOverDataThatIsNotGzipSaysSo() throws Exception {
    Path fake = tmp.resolve("fake.csv.gz");
    Files.writeString(fake, "a,b\n1,2\n");
    LoadOptions options = LoadOptions.builder().cacheDir(tmp.resolve("cache")).build();
    RuntimeException e = assertThrows(RuntimeException.class,
        () -> Dataset.load(DataFormat.CSV, options, fake.toString()).close());
    String all = e + " " + e.getCause();
    assertTrue(all.contains("fake.csv.gz ends in .gz but is not gzip data"), all);
  }
}
