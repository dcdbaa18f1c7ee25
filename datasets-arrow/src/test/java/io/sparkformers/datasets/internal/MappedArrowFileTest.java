package io.sparkformers.datasets.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.sparkformers.datasets.ColumnType;
import io.sparkformers.datasets.Features;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Files larger than one mapping are mapped as several ranges of whole record batches (2 GB in production). */
class MappedArrowFileTest {
  @TempDir Path dir;

  @AfterEach
  void restore() {
    MappedArrowFile.maxMappingBytes = Integer.MAX_VALUE;
  }

  @Test
  void aFileLargerThanOneMappingIsMappedByRangesOfBatches() {
    Path file = dir.resolve("ids.arrow");
    Features f = Features.of("ids", ColumnType.INT32_LIST);
    try (ArrowShardWriter w = new ArrowShardWriter(file, f, 100)) {
      for (int r = 0; r < 1000; r++) {
        int[] ids = new int[64];
        for (int k = 0; k < 64; k++) {
          ids[k] = r * 64 + k;
        }
        w.write(new Object[] {ids});
      }
      w.commit();
    }
    MappedArrowFile.maxMappingBytes = 64 * 1024; // each batch is about 26 KB: two batches per mapping
    try (BufferAllocator allocator = new RootAllocator(); MappedArrowFile m = MappedArrowFile.open(file, allocator)) {
      assertEquals(10, m.batches().size());
      assertEquals(5, m.mappingCount());
      long sum = 0;
      long count = 0;
      for (VectorSchemaRoot b : m.batches()) {
        for (int i = 0; i < b.getRowCount(); i++) {
          for (int id : (int[]) ArrowValues.get(b.getVector(0), ColumnType.INT32_LIST, i)) {
            assertEquals(count++, id);
            sum += id;
          }
        }
      }
      assertEquals(64000L * 63999 / 2, sum);
    }
    MappedArrowFile.maxMappingBytes = 1000;
    try (BufferAllocator allocator = new RootAllocator()) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> MappedArrowFile.open(file, allocator));
      assertEquals(file + ": record batch 0 is larger than one mapping (1000 bytes)", e.getMessage());
    }
  }

  @Test
  void aFileThatIsNotArrowIsNamed() throws Exception {
    Path bad = dir.resolve("x.arrow");
    Files.writeString(bad, "not an arrow file at all");
    try (BufferAllocator allocator = new RootAllocator()) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> MappedArrowFile.open(bad, allocator));
      assertEquals(bad + ": not an Arrow IPC file (no ARROW1 footer; an Arrow stream must be loaded with format"
          + " arrow, which copies it)", e.getMessage());
    }
  }
}
