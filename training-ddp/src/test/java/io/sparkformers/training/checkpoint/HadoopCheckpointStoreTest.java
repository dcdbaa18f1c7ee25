package io.sparkformers.training.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkformers.training.models.SafeTensorsFile;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Hadoop FileSystem path of the store (what {@code s3a://} and {@code hdfs://} output directories take):
 * Hadoop's own local file system registered under a scheme of its own, so that the store cannot treat it as
 * a local path.
 */
class HadoopCheckpointStoreTest {

  /** Hadoop's raw local file system under the scheme {@code hadooplocal}. */
  public static final class HadoopLocal extends RawLocalFileSystem {
    @Override
    public URI getUri() {
      return URI.create("hadooplocal:///");
    }

    @Override
    public String getScheme() {
      return "hadooplocal";
    }
  }

  @TempDir Path dir;

  @Test
  void savesListsVerifiesRotatesAndFetchesThroughAHadoopFileSystem() throws Exception {
    Configuration conf = new Configuration();
    conf.set("fs.hadooplocal.impl", HadoopLocal.class.getName());
    conf.setBoolean("fs.hadooplocal.impl.disable.cache", true);
    CheckpointStore store = new CheckpointStore("hadooplocal://" + dir.toAbsolutePath(), conf);
    assertFalse(store.isLocal());
    for (long step : new long[] {3, 6, 9}) {
      store.save(step, CheckpointStoreTest.files("{\"global_step\": " + step + "}"));
    }
    assertEquals(List.of(3L, 6L, 9L), store.steps());
    assertFalse(Files.exists(dir.resolve("tmp-checkpoint-9")));
    // The newest is damaged on the remote side: the store falls back to checkpoint-6, fetched locally.
    Files.writeString(dir.resolve("checkpoint-9/trainer_state.json"), "{\"global_step\": 90}");
    Path local = store.newestComplete().orElseThrow();
    assertTrue(!local.startsWith(dir), "fetched to a local folder: " + local);
    assertEquals("{\"global_step\": 6}", Files.readString(local.resolve("trainer_state.json")));
    try (SafeTensorsFile f = SafeTensorsFile.open(local.resolve("model.safetensors"))) {
      assertEquals(4, f.info("w").numel());
    }
    assertEquals(List.of(3L), store.rotate(2, null));
    assertEquals(List.of(6L, 9L), store.steps());
  }
}
