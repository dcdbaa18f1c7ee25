package io.sparkformers.datasets.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Reads lines of a UTF-8 file, keeping count of the line number and the byte offset, so that a byte that is
 * not UTF-8 is reported with its offset and parse errors with their line. Strips a leading byte order mark
 * and the line ending ({@code \n} or {@code \r\n}).
 */
public final class Utf8LineReader implements AutoCloseable {
  private final InputStream in;
  private final String source;
  private final CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
      .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
  private byte[] buf = new byte[1 << 16];
  private int pos;
  private int end;
  private boolean eof;
  private long bufferStartOffset;
  private long lineNumber;
  private long lineStartOffset;
  private boolean first = true;
  private long maxLines = Long.MAX_VALUE;

  public Utf8LineReader(InputStream in, String source) {
    this.in = in;
    this.source = source;
  }

  /** Reads at most {@code lines} lines (to infer types from the start of a file); returns this reader. */
  public Utf8LineReader limitLines(long lines) {
    this.maxLines = lines;
    return this;
  }

  /**
   * Continues a file whose first {@code offset} bytes ({@code lines} lines) the stream given to the constructor
   * has already skipped: offsets and line numbers then count from the file's start. Call before reading.
   */
  public Utf8LineReader startAt(long offset, long lines) {
    this.bufferStartOffset = offset;
    this.lineNumber = lines;
    this.first = offset == 0; // a byte order mark stands only at the start of a file
    return this;
  }

  /** The byte offset just after the line last returned (where the next line starts). */
  public long nextLineOffset() {
    return bufferStartOffset + pos;
  }

  /** The 1-based number of the line last returned. */
  public long lineNumber() {
    return lineNumber;
  }

  /** The byte offset where the line last returned starts. */
  public long lineStartOffset() {
    return lineStartOffset;
  }

  public String source() {
    return source;
  }

  /** The next line without its ending, or null at the end of the file. */
  public String readLine() {
    if (lineNumber >= maxLines) {
      return null;
    }
    try {
      int scan = pos;
      while (true) {
        for (; scan < end; scan++) {
          if (buf[scan] == '\n') {
            return take(scan, scan + 1);
          }
        }
        if (eof) {
          return pos < end ? take(end, end) : null;
        }
        if (pos > 0) {
          System.arraycopy(buf, pos, buf, 0, end - pos);
          bufferStartOffset += pos;
          scan -= pos;
          end -= pos;
          pos = 0;
        }
        if (end == buf.length) {
          buf = Arrays.copyOf(buf, buf.length * 2);
        }
        int n = in.read(buf, end, buf.length - end);
        if (n < 0) {
          eof = true;
        } else {
          end += n;
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot read " + source, e);
    }
  }

  private String take(int lineEnd, int next) {
    int start = pos;
    lineStartOffset = bufferStartOffset + start;
    lineNumber++;
    pos = next;
    int stop = lineEnd > start && buf[lineEnd - 1] == '\r' ? lineEnd - 1 : lineEnd;
    if (first) {
      first = false;
      if (stop - start >= 3 && (buf[start] & 0xff) == 0xEF && (buf[start + 1] & 0xff) == 0xBB
          && (buf[start + 2] & 0xff) == 0xBF) {
        start += 3;
      }
    }
    return decode(start, stop);
  }

  private String decode(int start, int stop) {
    boolean ascii = true;
    for (int i = start; i < stop; i++) {
      if (buf[i] < 0) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      return new String(buf, start, stop - start, StandardCharsets.ISO_8859_1);
    }
    ByteBuffer bytes = ByteBuffer.wrap(buf, start, stop - start);
    CharBuffer chars = CharBuffer.allocate(stop - start);
    decoder.reset();
    CoderResult r = decoder.decode(bytes, chars, true);
    if (r.isError()) {
      long offset = bufferStartOffset + bytes.position();
      throw new MalformedInputError(source + ": line " + lineNumber + ": byte 0x"
          + String.format("%02X", buf[bytes.position()] & 0xff) + " at offset " + offset
          + " is not valid UTF-8", offset);
    }
    decoder.flush(chars);
    chars.flip();
    return chars.toString();
  }

  @Override
  public void close() {
    try {
      in.close();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A byte that is not UTF-8, with its offset in the file. */
  public static final class MalformedInputError extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;
    private final long offset;

    public MalformedInputError(String message, long offset) {
      super(message);
      this.offset = offset;
    }

    public long offset() {
      return offset;
    }
  }
}
