package io.sparkformers.accelerate.internal;

import io.sparkformers.accelerate.ElementType;
import io.sparkformers.accelerate.ReduceOp;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;

/**
 * Element-wise reductions between buffers, {@code dst[i] = op(dst[i], src[i])}, and the division of AVG.
 * Works in chunks through primitive arrays: bulk copies plus a plain loop that the JIT vectorises are much
 * faster than element-wise access to direct buffers. One instance per thread (it owns its chunk arrays).
 */
public final class Reducer {
  private static final int CHUNK = 8192;

  private final float[] fa = new float[CHUNK];
  private final float[] fb = new float[CHUNK];
  private final int[] ia = new int[CHUNK];
  private final int[] ib = new int[CHUNK];
  private final long[] la = new long[CHUNK];
  private final long[] lb = new long[CHUNK];
  private final double[] da = new double[CHUNK];
  private final double[] db = new double[CHUNK];
  private final short[] sa = new short[CHUNK];
  private final short[] sb = new short[CHUNK];

  /** A native-order view of {@code bytes} bytes of {@code b} from absolute offset {@code off}. */
  public static ByteBuffer view(ByteBuffer b, int off, int bytes) {
    ByteBuffer d = b.duplicate();
    d.limit(off + bytes).position(off);
    return d.slice().order(ByteOrder.nativeOrder());
  }

  /** {@code dst[dstOff..] = op(dst[dstOff..], src[srcOff..])} over {@code bytes} bytes. */
  public void reduce(ElementType type, ReduceOp op, ByteBuffer src, int srcOff, ByteBuffer dst, int dstOff,
      int bytes) {
    ByteBuffer s = view(src, srcOff, bytes);
    ByteBuffer d = view(dst, dstOff, bytes);
    switch (type) {
      case FLOAT32 -> reduceFloat(op, s.asFloatBuffer(), d.asFloatBuffer());
      case FLOAT16 -> reduceHalf(op, s.asShortBuffer(), d.asShortBuffer());
      case INT32 -> reduceInt(op, s.asIntBuffer(), d.asIntBuffer());
      case INT64 -> reduceLong(op, s.asLongBuffer(), d.asLongBuffer());
      case FLOAT64 -> reduceDouble(op, s.asDoubleBuffer(), d.asDoubleBuffer());
    }
  }

  /** Divides {@code bytes} bytes of {@code buf} from {@code off} by {@code divisor} (AVG's last step). */
  public void divide(ElementType type, ByteBuffer buf, int off, int bytes, int divisor) {
    if (divisor == 1) {
      return;
    }
    ByteBuffer d = view(buf, off, bytes);
    switch (type) {
      case FLOAT32 -> {
        FloatBuffer f = d.asFloatBuffer();
        float div = divisor;
        for (int at = 0, n = f.remaining(); at < n; at += CHUNK) {
          int len = Math.min(CHUNK, n - at);
          f.get(at, fa, 0, len);
          for (int i = 0; i < len; i++) {
            fa[i] = fa[i] / div;
          }
          f.put(at, fa, 0, len);
        }
      }
      case FLOAT16 -> {
        ShortBuffer f = d.asShortBuffer();
        for (int i = 0, n = f.remaining(); i < n; i++) {
          f.put(i, Half.fromFloat(Half.toFloat(f.get(i)) / divisor));
        }
      }
      case INT32 -> {
        IntBuffer f = d.asIntBuffer();
        for (int i = 0, n = f.remaining(); i < n; i++) {
          f.put(i, f.get(i) / divisor);
        }
      }
      case INT64 -> {
        LongBuffer f = d.asLongBuffer();
        for (int i = 0, n = f.remaining(); i < n; i++) {
          f.put(i, f.get(i) / divisor);
        }
      }
      case FLOAT64 -> {
        DoubleBuffer f = d.asDoubleBuffer();
        for (int i = 0, n = f.remaining(); i < n; i++) {
          f.put(i, f.get(i) / divisor);
        }
      }
    }
  }

  private void reduceFloat(ReduceOp op, FloatBuffer s, FloatBuffer d) {
    for (int at = 0, n = d.remaining(); at < n; at += CHUNK) {
      int len = Math.min(CHUNK, n - at);
      s.get(at, fa, 0, len);
      d.get(at, fb, 0, len);
      switch (op) {
        case SUM, AVG -> {
          for (int i = 0; i < len; i++) {
            fb[i] = fb[i] + fa[i];
          }
        }
        case MAX -> {
          for (int i = 0; i < len; i++) {
            fb[i] = Math.max(fb[i], fa[i]);
          }
        }
        case MIN -> {
          for (int i = 0; i < len; i++) {
            fb[i] = Math.min(fb[i], fa[i]);
          }
        }
      }
      d.put(at, fb, 0, len);
    }
  }

  private void reduceHalf(ReduceOp op, ShortBuffer s, ShortBuffer d) {
    for (int at = 0, n = d.remaining(); at < n; at += CHUNK) {
      int len = Math.min(CHUNK, n - at);
      s.get(at, sa, 0, len);
      d.get(at, sb, 0, len);
      for (int i = 0; i < len; i++) {
        float x = Half.toFloat(sb[i]);
        float y = Half.toFloat(sa[i]);
        float r = switch (op) {
          case SUM, AVG -> x + y;
          case MAX -> Math.max(x, y);
          case MIN -> Math.min(x, y);
        };
        sb[i] = Half.fromFloat(r);
      }
      d.put(at, sb, 0, len);
    }
  }

  private void reduceInt(ReduceOp op, IntBuffer s, IntBuffer d) {
    for (int at = 0, n = d.remaining(); at < n; at += CHUNK) {
      int len = Math.min(CHUNK, n - at);
      s.get(at, ia, 0, len);
      d.get(at, ib, 0, len);
      switch (op) {
        case SUM, AVG -> {
          for (int i = 0; i < len; i++) {
            ib[i] = ib[i] + ia[i];
          }
        }
        case MAX -> {
          for (int i = 0; i < len; i++) {
            ib[i] = Math.max(ib[i], ia[i]);
          }
        }
        case MIN -> {
          for (int i = 0; i < len; i++) {
            ib[i] = Math.min(ib[i], ia[i]);
          }
        }
      }
      d.put(at, ib, 0, len);
    }
  }

  private void reduceLong(ReduceOp op, LongBuffer s, LongBuffer d) {
    for (int at = 0, n = d.remaining(); at < n; at += CHUNK) {
      int len = Math.min(CHUNK, n - at);
      s.get(at, la, 0, len);
      d.get(at, lb, 0, len);
      switch (op) {
        case SUM, AVG -> {
          for (int i = 0; i < len; i++) {
            lb[i] = lb[i] + la[i];
          }
        }
        case MAX -> {
          for (int i = 0; i < len; i++) {
            lb[i] = Math.max(lb[i], la[i]);
          }
        }
        case MIN -> {
          for (int i = 0; i < len; i++) {
            lb[i] = Math.min(lb[i], la[i]);
          }
        }
      }
      d.put(at, lb, 0, len);
    }
  }

  private void reduceDouble(ReduceOp op, DoubleBuffer s, DoubleBuffer d) {
    for (int at = 0, n = d.remaining(); at < n; at += CHUNK) {
      int len = Math.min(CHUNK, n - at);
      s.get(at, da, 0, len);
      d.get(at, db, 0, len);
      switch (op) {
        case SUM, AVG -> {
          for (int i = 0; i < len; i++) {
            db[i] = db[i] + da[i];
          }
        }
        case MAX -> {
          for (int i = 0; i < len; i++) {
            db[i] = Math.max(db[i], da[i]);
          }
        }
        case MIN -> {
          for (int i = 0; i < len; i++) {
            db[i] = Math.min(db[i], da[i]);
          }
        }
      }
      d.put(at, db, 0, len);
    }
  }
}
