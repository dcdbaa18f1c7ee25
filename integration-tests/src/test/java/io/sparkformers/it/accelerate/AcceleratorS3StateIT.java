package io.sparkformers.it.accelerate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkformers.accelerate.Accelerator;
import io.sparkformers.accelerate.Checkpointable;
import io.sparkformers.it.S3ProxyServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Accelerator state saved to and loaded from {@code s3a://} on a real S3-compatible server (s3proxy). */
class AcceleratorS3StateIT {
  @TempDir Path tmp;

  /** A registered state of raw bytes. */
  static final class Blob implements Checkpointable {
    byte[] bytes = new byte[0];

    @Override
    public void save(OutputStream out) throws IOException {
      out.write(bytes);
    }

    @Override
    public void load(InputStream in) throws IOException {
      bytes = in.readAllBytes();
    }
  }

  @Test
  void stateRoundTripsThroughS3aAndAMissingStateNamesTheObject() throws Exception {
    try (S3ProxyServer s3 = S3ProxyServer.start(tmp.resolve("s3"))) {
      s3.createBucket("acc");
      Configuration conf = new Configuration();
      s3.hadoopConfiguration().forEach(conf::set);
      byte[] payload = new byte[300_001];
      for (int i = 0; i < payload.length; i++) {
        payload[i] = (byte) (i * 31 + 7);
      }
      try (Accelerator acc = Accelerator.singleRank()) {
        Blob blob = new Blob();
        blob.bytes = payload;
        acc.registerForCheckpointing("optimizer", blob);
        acc.saveState("s3a://acc/run/step-3", conf);
        blob.bytes = new byte[0];
        acc.loadState("s3a://acc/run/step-3", conf);
        assertArrayEquals(payload, blob.bytes);
      }
      // Stored as an object under its final name, no temporary left behind.
      Path stored = tmp.resolve("s3/storage/acc/run/step-3");
      assertTrue(Files.exists(stored.resolve("optimizer_0.bin")));
      try (var files = Files.list(stored)) {
        assertTrue(files.noneMatch(p -> p.getFileName().toString().endsWith(".tmp")));
      }
      try (Accelerator acc = Accelerator.singleRank()) {
        acc.registerForCheckpointing("scheduler", new Blob());
        IllegalStateException e = assertThrows(IllegalStateException.class,
            () -> acc.loadState("s3a://acc/run/step-3", conf));
        assertEquals("rank 0: checkpoint s3a://acc/run/step-3 has no state 'scheduler' for this rank (expected"
            + " scheduler_0.bin); was it saved with 1 ranks?", e.getMessage());
      }
    }
  }
}
