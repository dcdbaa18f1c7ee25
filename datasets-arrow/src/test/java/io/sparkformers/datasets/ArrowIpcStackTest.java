package io.sparkformers.datasets;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Proves the stack: Arrow's netty allocator works under the test JVM flags and an IPC file round-trips. */
class ArrowIpcStackTest {

  @Test
  void ipcFileRoundTripsValuesAndTheAllocatorEndsEmpty(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("rows.arrow");
    Schema schema = new Schema(List.of(
        Field.nullable("id", new ArrowType.Int(32, true)),
        Field.nullable("text", ArrowType.Utf8.INSTANCE)));
    try (BufferAllocator allocator = new RootAllocator()) {
      try (VectorSchemaRoot root = VectorSchemaRoot.create(schema, allocator);
          FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
          ArrowFileWriter writer = new ArrowFileWriter(root, null, out)) {
        IntVector id = (IntVector) root.getVector("id");
        VarCharVector text = (VarCharVector) root.getVector("text");
        writer.start();
        for (int batch = 0; batch < 2; batch++) {
          root.allocateNew();
          for (int i = 0; i < 3; i++) {
            id.setSafe(i, batch * 3 + i);
            text.setSafe(i, ("héllo " + (batch * 3 + i)).getBytes(java.nio.charset.StandardCharsets.UTF_8));
          }
          root.setRowCount(3);
          writer.writeBatch();
        }
        writer.end();
      }

      StringBuilder seen = new StringBuilder();
      try (FileChannel in = FileChannel.open(file);
          ArrowFileReader reader = new ArrowFileReader(in, allocator)) {
        assertEquals(2, reader.getRecordBlocks().size());
        while (reader.loadNextBatch()) {
          VectorSchemaRoot root = reader.getVectorSchemaRoot();
          for (int i = 0; i < root.getRowCount(); i++) {
            seen.append(((IntVector) root.getVector("id")).get(i)).append('|')
                .append(root.getVector("text").getObject(i)).append(';');
          }
        }
      }
      assertEquals("0|héllo 0;1|héllo 1;2|héllo 2;3|héllo 3;4|héllo 4;5|héllo 5;", seen.toString());
      assertEquals(0, allocator.getAllocatedMemory());
    }
  }
}
