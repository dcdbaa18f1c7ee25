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

  /**
   * {@code op(...op(op(srcs[0], srcs[1]), srcs[2])..., srcs[n-1])} over {@code bytes} bytes from
   * {@code offs[k]} in {@code srcs[k]}, always in this order (so that whoever computes an element gets the same
   * bits), divided by {@code srcs.length} for AVG, written to every {@code dsts[k]} at {@code dstOffs[k]}.
   * Destinations may be the sources themselves: each chunk is read from all sources before it is written.
   */
  public void reduceAll(ElementType type, ReduceOp op, ByteBuffer[] srcs, int[] offs, ByteBuffer[] dsts,
      int[] dstOffs, int bytes) {
    int es = type.bytes();
    int step = CHUNK * es;
    for (int at = 0; at < bytes; at += step) {
      int len = Math.min(step, bytes - at);
      int n = len / es;
      switch (type) {
        case FLOAT32 -> {
          view(srcs[0], offs[0] + at, len).asFloatBuffer().get(0, fa, 0, n);
          for (int k = 1; k < srcs.length; k++) {
            view(srcs[k], offs[k] + at, len).asFloatBuffer().get(0, fb, 0, n);
            combineFloat(op, fa, fb, n);
          }
          if (op == ReduceOp.AVG) {
            float div = srcs.length;
            for (int i = 0; i < n; i++) {
              fa[i] = fa[i] / div;
            }
          }
          for (int k = 0; k < dsts.length; k++) {
            view(dsts[k], dstOffs[k] + at, len).asFloatBuffer().put(0, fa, 0, n);
          }
        }
        case INT32 -> {
          view(srcs[0], offs[0] + at, len).asIntBuffer().get(0, ia, 0, n);
          for (int k = 1; k < srcs.length; k++) {
            view(srcs[k], offs[k] + at, len).asIntBuffer().get(0, ib, 0, n);
            combineInt(op, ia, ib, n);
          }
          if (op == ReduceOp.AVG) {
            for (int i = 0; i < n; i++) {
              ia[i] = ia[i] / srcs.length;
            }
          }
          for (int k = 0; k < dsts.length; k++) {
            view(dsts[k], dstOffs[k] + at, len).asIntBuffer().put(0, ia, 0, n);
          }
        }
        case INT64 -> {
          view(srcs[0], offs[0] + at, len).asLongBuffer().get(0, la, 0, n);
          for (int k = 1; k < srcs.length; k++) {
            view(srcs[k], offs[k] + at, len).asLongBuffer().get(0, lb, 0, n);
            combineLong(op, la, lb, n);
          }
          if (op == ReduceOp.AVG) {
            for (int i = 0; i < n; i++) {
              la[i] = la[i] / srcs.length;
            }
          }
          for (int k = 0; k < dsts.length; k++) {
            view(dsts[k], dstOffs[k] + at, len).asLongBuffer().put(0, la, 0, n);
          }
        }
        case FLOAT64 -> {
          view(srcs[0], offs[0] + at, len).asDoubleBuffer().get(0, da, 0, n);
          for (int k = 1; k < srcs.length; k++) {
            view(srcs[k], offs[k] + at, len).asDoubleBuffer().get(0, db, 0, n);
            combineDouble(op, da, db, n);
          }
          if (op == ReduceOp.AVG) {
            for (int i = 0; i < n; i++) {
              da[i] = da[i] / srcs.length;
            }
          }
          for (int k = 0; k < dsts.length; k++) {
            view(dsts[k], dstOffs[k] + at, len).asDoubleBuffer().put(0, da, 0, n);
          }
        }
        case FLOAT16 -> {
          view(srcs[0], offs[0] + at, len).asShortBuffer().get(0, sa, 0, n);
          for (int k = 1; k < srcs.length; k++) {
            view(srcs[k], offs[k] + at, len).asShortBuffer().get(0, sb, 0, n);
            combineHalf(op, sa, sb, n);
          }
          if (op == ReduceOp.AVG) {
            for (int i = 0; i < n; i++) {
              sa[i] = Half.fromFloat(Half.toFloat(sa[i]) / srcs.length);
            }
          }
          for (int k = 0; k < dsts.length; k++) {
            view(dsts[k], dstOffs[k] + at, len).asShortBuffer().put(0, sa, 0, n);
          }
        }
      }
    }
  }

  private static void combineFloat(ReduceOp op, float[] acc, float[] x, int n) {
    switch (op) {
      case SUM, AVG -> {
        for (int i = 0; i < n; i++) {
          acc[i] = acc[i] + x[i];
        }
      }
      case MAX -> {
        for (int i = 0; i < n; i++) {
          acc[i] = Math.max(acc[i], x[i]);
        }
      }
      case MIN -> {
        for (int i = 0; i < n; i++) {
          acc[i] = Math.min(acc[i], x[i]);
        }
      }
    }
  }

  private static void combineInt(ReduceOp op, int[] acc, int[] x, int n) {
    switch (op) {
      case SUM, AVG -> {
        for (int i = 0; i < n; i++) {
          acc[i] = acc[i] + x[i];
        }
      }
      case MAX -> {
        for (int i = 0; i < n; i++) {
          acc[i] = Math.max(acc[i], x[i]);
        }
      }
      case MIN -> {
        for (int i = 0; i < n; i++) {
          acc[i] = Math.min(acc[i], x[i]);
        }
      }
    }
  }

  private static void combineLong(ReduceOp op, long[] acc, long[] x, int n) {
    switch (op) {
      case SUM, AVG -> {
        for (int i = 0; i < n; i++) {
          acc[i] = acc[i] + x[i];
        }
      }
      case MAX -> {
        for (int i = 0; i < n; i++) {
          acc[i] = Math.max(acc[i], x[i]);
        }
      }
      case MIN -> {
        for (int i = 0; i < n; i++) {
          acc[i] = Math.min(acc[i], x[i]);
        }
      }
    }
  }

  private static void combineDouble(ReduceOp op, double[] acc, double[] x, int n) {
    switch (op) {
      case SUM, AVG -> {
        for (int i = 0; i < n; i++) {
          acc[i] = acc[i] + x[i];
        }
      }
      case MAX -> {
        for (int i = 0; i < n; i++) {
          acc[i] = Math.max(acc[i], x[i]);
        }
      }
      case MIN -> {
        for (int i = 0; i < n; i++) {
          acc[i] = Math.min(acc[i], x[i]);
        }
      }
    }
  }

  /** Halves are combined in float and rounded back after each step, as the pairwise {@link #reduce} does. */
  private static void combineHalf(ReduceOp op, short[] acc, short[] x, int n) {
    for (int i = 0; i < n; i++) {
      float a = Half.toFloat(acc[i]);
      float b = Half.toFloat(x[i]);
      float r = switch (op) {
        case SUM, AVG -> a + b;
        case MAX -> Math.max(a, b);
        case MIN -> Math.min(a, b);
      };
      acc[i] = Half.fromFloat(r);
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
