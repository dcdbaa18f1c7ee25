package io.sparkformers.datasets.internal;

import io.sparkformers.datasets.internal.InputFiles.InputFile;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * Byte ranges of an uncompressed line-oriented file (JSON lines, text) read by separate tasks. A line belongs
 * to the range that holds its first byte, as in Hadoop's LineRecordReader: a line starts at byte 0 or just
 * after a {@code '\n'}, so a range [start, end) holds the lines starting at q in [start, end) with q = 0 or
 * byte q - 1 = {@code '\n'}. Only {@code '\n'} bytes are looked at: a multi-byte UTF-8 character never holds
 * one, so no range begins inside a character, and a CRLF line ends at its {@code '\n'} like any other.
 */
public final class LineRanges {
  private LineRanges() {}

  /** The ranges of a file of {@code size} bytes: [k * rangeBytes, min(size, (k + 1) * rangeBytes)). */
  public static long[][] cut(long size, long rangeBytes) {
    int n = Math.toIntExact((size + rangeBytes - 1) / rangeBytes);
    long[][] out = new long[n][];
    for (int k = 0; k < n; k++) {
      long start = k * rangeBytes;
      out[k] = new long[] {start, Math.min(size, start + rangeBytes)};
    }
    return out;
  }

  /**
   * The lines of [start, end) of {@code f}: {first line's byte offset, number of lines}, reading bytes
   * start - 1 to end - 1 without decoding them (a range holding no line start gives {end, 0}).
   */
  public static long[] count(InputFiles inputs, InputFile f, long start, long end) {
    if (start < 0 || end <= start || end > f.size()) {
      throw new IllegalArgumentException("Range [" + start + ", " + end + ") is not within " + f.uri() + " ("
          + f.size() + " bytes)");
    }
    long first = start == 0 ? 0 : -1;
    long lines = start == 0 ? 1 : 0;
    // Each '\n' at p in [start - 1, end - 1) starts a line at p + 1 in [start, end).
    long pos = start == 0 ? 0 : start - 1;
    long stop = end - 1;
    byte[] buf = new byte[1 << 16];
    try (InputStream in = inputs.openAt(f, pos)) {
      while (pos < stop) {
        int n = in.read(buf, 0, (int) Math.min(buf.length, stop - pos));
        if (n < 0) {
          throw new IllegalArgumentException(f.uri() + " ends at byte " + pos + " but was listed with " + f.size()
              + " bytes: it changed while being loaded");
        }
        for (int i = 0; i < n; i++) {
          if (buf[i] == '\n') {
            if (lines++ == 0) {
              first = pos + i + 1;
            }
          }
        }
        pos += n;
      }
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot read " + f.uri(), e);
    }
    return new long[] {lines == 0 ? end : first, lines};
  }
}
