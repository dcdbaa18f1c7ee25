package io.sparkformers.datasets.internal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.flatbuf.Footer;
import org.apache.arrow.flatbuf.Message;
import org.apache.arrow.flatbuf.MessageHeader;
import org.apache.arrow.flatbuf.RecordBatch;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.ForeignAllocation;
import org.apache.arrow.memory.util.MemoryUtil;
import org.apache.arrow.vector.VectorLoader;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.message.ArrowBlock;
import org.apache.arrow.vector.ipc.message.ArrowFooter;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * An Arrow IPC file memory-mapped with zero copy: every record batch becomes a {@link VectorSchemaRoot} whose
 * buffers point into the mapping (Arrow Java's own {@code ArrowFileReader} copies). One mapping holds at most
 * 2 GB, so larger files are mapped as several ranges of whole record batches. This object holds the mappings:
 * it must stay reachable while its vectors are used (the table that owns it does that); after it is closed
 * and dropped, the garbage collector unmaps them (unmapping eagerly would crash a reader still holding a
 * vector or a buffer view).
 */
public final class MappedArrowFile implements AutoCloseable {
  private static final byte[] MAGIC = "ARROW1".getBytes(StandardCharsets.US_ASCII);
  /** The most one mapping holds; lowered only by tests, to exercise files of several ranges. */
  static long maxMappingBytes = Integer.MAX_VALUE;

  private final Path path;
  private final Schema schema;
  private final List<VectorSchemaRoot> batches = new ArrayList<>();
  // The vectors point into these mappings by address only: holding them here keeps the garbage collector from
  // unmapping the memory while the vectors are in use.
  private final List<MappedByteBuffer> mappings = new ArrayList<>();

  private MappedArrowFile(Path path, Schema schema) {
    this.path = path;
    this.schema = schema;
  }

  /** Maps {@code path}; the batches' memory is accounted to {@code allocator}. */
  public static MappedArrowFile open(Path path, BufferAllocator allocator) {
    try (FileChannel channel = FileChannel.open(path)) {
      long size = channel.size();
      ArrowFooter footer = readFooter(channel, size, path);
      MappedArrowFile file = new MappedArrowFile(path, footer.getSchema());
      if (!footer.getDictionaries().isEmpty()) {
        throw new IllegalArgumentException(path + ": dictionary-encoded Arrow files are not supported here");
      }
      try {
        List<ArrowBlock> blocks = footer.getRecordBatches();
        int i = 0;
        while (i < blocks.size()) {
          // Group consecutive batches into one mapping of at most Integer.MAX_VALUE bytes.
          long start = blocks.get(i).getOffset();
          int j = i;
          while (j < blocks.size() && end(blocks.get(j)) - start <= maxMappingBytes) {
            j++;
          }
          if (j == i) {
            throw new IllegalArgumentException(path + ": record batch " + i + " is larger than one mapping ("
                + maxMappingBytes + " bytes)");
          }
          MappedByteBuffer mapping = channel.map(FileChannel.MapMode.READ_ONLY, start, end(blocks.get(j - 1))
              - start);
          mapping.order(ByteOrder.LITTLE_ENDIAN);
          file.mappings.add(mapping);
          long address = MemoryUtil.getByteBufferAddress(mapping);
          for (int b = i; b < j; b++) {
            file.batches.add(load(file.schema, mapping, address, blocks.get(b), start, allocator, path, b));
          }
          i = j;
        }
      } catch (RuntimeException | IOException e) {
        file.close();
        throw e;
      }
      return file;
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot read Arrow file " + path, e);
    }
  }

  private static long end(ArrowBlock block) {
    return block.getOffset() + block.getMetadataLength() + block.getBodyLength();
  }

  private static ArrowFooter readFooter(FileChannel channel, long size, Path path) throws IOException {
    if (size < 2L * MAGIC.length + 4) {
      throw new IllegalArgumentException(path + ": not an Arrow IPC file (" + size + " bytes)");
    }
    ByteBuffer tail = ByteBuffer.allocate(4 + MAGIC.length).order(ByteOrder.LITTLE_ENDIAN);
    channel.read(tail, size - tail.capacity());
    tail.flip();
    int footerLength = tail.getInt();
    byte[] magic = new byte[MAGIC.length];
    tail.get(magic);
    if (!java.util.Arrays.equals(magic, MAGIC) || footerLength <= 0 || footerLength > size) {
      throw new IllegalArgumentException(path + ": not an Arrow IPC file (no ARROW1 footer; an Arrow stream"
          + " must be loaded with format arrow, which copies it)");
    }
    ByteBuffer footerBytes = ByteBuffer.allocate(footerLength);
    channel.read(footerBytes, size - tail.capacity() - footerLength);
    footerBytes.flip();
    return new ArrowFooter(Footer.getRootAsFooter(footerBytes));
  }

  private static VectorSchemaRoot load(Schema schema, MappedByteBuffer mapping, long address, ArrowBlock block,
      long mappingStart, BufferAllocator allocator, Path path, int index) throws IOException {
    int at = (int) (block.getOffset() - mappingStart);
    int prefix = 4;
    int length = mapping.getInt(at);
    if (length == MessageSerializer.IPC_CONTINUATION_TOKEN) {
      length = mapping.getInt(at + 4);
      prefix = 8;
    }
    ByteBuffer metadata = mapping.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    metadata.position(at + prefix).limit(at + prefix + length);
    Message message = Message.getRootAsMessage(metadata.slice().order(ByteOrder.LITTLE_ENDIAN));
    if (message.headerType() != MessageHeader.RecordBatch) {
      throw new IllegalArgumentException(path + ": block " + index + " is not a record batch");
    }
    RecordBatch header = (RecordBatch) message.header(new RecordBatch());
    if (header.compression() != null) {
      throw new IllegalArgumentException(path + ": compressed Arrow buffers cannot be memory-mapped");
    }
    long bodyAddress = address + at + block.getMetadataLength();
    long bodyLength = block.getBodyLength();
    ArrowBuf body = allocator.wrapForeignAllocation(new ForeignAllocation(bodyLength, bodyAddress) {
      @Override
      protected void release0() {
        // The mapping is released by the garbage collector (see the class comment).
      }
    });
    VectorSchemaRoot root = VectorSchemaRoot.create(schema, allocator);
    // deserializeRecordBatch releases the body's own reference; the batch and then the vectors hold theirs.
    try (ArrowRecordBatch batch = MessageSerializer.deserializeRecordBatch(header, body)) {
      new VectorLoader(root).load(batch);
    } catch (RuntimeException | IOException e) {
      root.close();
      throw e;
    }
    return root;
  }

  /**
   * A view of {@code bytes} bytes at {@code address} inside one of the mappings, or null when the address is
   * not in this file. The view keeps its mapping alive for as long as the view itself is reachable.
   */
  public ByteBuffer view(long address, int bytes) {
    for (MappedByteBuffer m : mappings) {
      long start = MemoryUtil.getByteBufferAddress(m);
      if (address >= start && address + bytes <= start + m.capacity()) {
        ByteBuffer d = m.duplicate();
        d.position((int) (address - start)).limit((int) (address - start) + bytes);
        return d.slice().order(ByteOrder.LITTLE_ENDIAN);
      }
    }
    return null;
  }

  public Path path() {
    return path;
  }

  public Schema schema() {
    return schema;
  }

  /** The number of memory mappings (ranges of whole record batches). */
  public int mappingCount() {
    return mappings.size();
  }

  public List<VectorSchemaRoot> batches() {
    return batches;
  }

  @Override
  public void close() {
    for (VectorSchemaRoot root : batches) {
      root.close();
    }
    batches.clear();
    mappings.clear();
  }
}
