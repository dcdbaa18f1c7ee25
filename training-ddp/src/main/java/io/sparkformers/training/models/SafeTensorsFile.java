package io.sparkformers.training.models;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import io.sparkformers.training.models.internal.ConfigReader;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@code .safetensors} file opened for reading: an 8-byte little-endian header length, a JSON header giving
 * each tensor's dtype, shape and {@code data_offsets} (relative to the end of the header), then the raw
 * little-endian data. The header is fully validated on {@link #open}: offsets inside the file, sizes matching
 * shape × dtype, no two tensors overlapping. Tensors are read on demand.
 */
public final class SafeTensorsFile implements AutoCloseable {

  /** One tensor's entry in the header. {@code begin}/{@code end} are byte offsets into the data section. */
  public record TensorInfo(String name, SafeTensorsDtype dtype, long[] shape, long begin, long end) {
    public long numel() {
      long n = 1;
      for (long d : shape) {
        n *= d;
      }
      return n;
    }
  }

  /** Upper bound on the JSON header, as the safetensors library has (100 MB): a guard against garbage. */
  private static final long MAX_HEADER = 100_000_000L;

  private final Path file;
  private final FileChannel channel;
  private final long dataStart;
  private final Map<String, String> metadata;
  private final Map<String, TensorInfo> tensors;

  private SafeTensorsFile(Path file, FileChannel channel, long dataStart, Map<String, String> metadata,
      Map<String, TensorInfo> tensors) {
    this.file = file;
    this.channel = channel;
    this.dataStart = dataStart;
    this.metadata = metadata;
    this.tensors = tensors;
  }

  /** Opens and validates {@code file}; an error names the file and the tensor at fault. */
  public static SafeTensorsFile open(Path file) throws IOException {
    FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
    try {
      long size = ch.size();
      if (size < 8) {
        throw new IOException(file + ": not a safetensors file: " + size + " bytes, shorter than the 8-byte header length");
      }
      ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      readFully(ch, lenBuf, 0, file);
      long headerLen = lenBuf.flip().getLong();
      if (headerLen < 0 || headerLen > size - 8) {
        throw new IOException(file + ": header length " + Long.toUnsignedString(headerLen)
            + " is beyond the file (" + size + " bytes): truncated or not a safetensors file");
      }
      if (headerLen > MAX_HEADER) {
        throw new IOException(file + ": header length " + headerLen + " exceeds the 100 MB limit");
      }
      ByteBuffer headerBuf = ByteBuffer.allocate((int) headerLen);
      readFully(ch, headerBuf, 8, file);
      String headerText = new String(headerBuf.array(), StandardCharsets.UTF_8);
      JsonObject header;
      try {
        header = ConfigReader.parseObject(headerText, file + " (header)");
      } catch (IllegalArgumentException e) {
        throw new IOException(e.getMessage(), e);
      }
      long dataStart = 8 + headerLen;
      long dataSize = size - dataStart;
      Map<String, String> metadata = new LinkedHashMap<>();
      Map<String, TensorInfo> tensors = new LinkedHashMap<>();
      for (Map.Entry<String, JsonElement> e : header.entrySet()) {
        if (e.getKey().equals("__metadata__")) {
          if (!e.getValue().isJsonObject()) {
            throw new IOException(file + ": __metadata__ must be an object of strings");
          }
          for (Map.Entry<String, JsonElement> m : e.getValue().getAsJsonObject().entrySet()) {
            if (!m.getValue().isJsonPrimitive()) {
              throw new IOException(file + ": __metadata__." + m.getKey() + " must be a string");
            }
            metadata.put(m.getKey(), m.getValue().getAsString());
          }
          continue;
        }
        tensors.put(e.getKey(), parseInfo(file, e.getKey(), e.getValue(), dataSize));
      }
      checkNoOverlap(file, tensors);
      return new SafeTensorsFile(file, ch, dataStart, Collections.unmodifiableMap(metadata),
          Collections.unmodifiableMap(tensors));
    } catch (IOException | RuntimeException e) {
      ch.close();
      // The checks above throw plain IOExceptions about the file's content (I/O failures are subclasses).
      if (e.getClass() == IOException.class) {
        throw new InvalidModelFileException(e.getMessage(), e);
      }
      throw e;
    }
  }

  private static TensorInfo parseInfo(Path file, String name, JsonElement el, long dataSize) throws IOException {
    String where = file + ": tensor '" + name + "'";
    if (!el.isJsonObject()) {
      throw new IOException(where + ": expected an object with dtype, shape and data_offsets");
    }
    JsonObject o = el.getAsJsonObject();
    for (String key : new String[] {"dtype", "shape", "data_offsets"}) {
      if (!o.has(key)) {
        throw new IOException(where + ": missing '" + key + "'");
      }
    }
    SafeTensorsDtype dtype;
    try {
      dtype = SafeTensorsDtype.valueOf(o.get("dtype").getAsString());
    } catch (RuntimeException e) {
      throw new IOException(where + ": unknown dtype " + o.get("dtype") + ", expected one of "
          + java.util.Arrays.toString(SafeTensorsDtype.values()));
    }
    long[] shape = longs(o.get("shape"), where + ": shape");
    long[] offsets = longs(o.get("data_offsets"), where + ": data_offsets");
    if (offsets.length != 2) {
      throw new IOException(where + ": data_offsets must be [begin, end], found " + o.get("data_offsets"));
    }
    long begin = offsets[0];
    long end = offsets[1];
    if (begin > end) {
      throw new IOException(where + ": data_offsets [" + begin + ", " + end + "] end before they begin");
    }
    if (end > dataSize) {
      throw new IOException(where + ": data_offsets [" + begin + ", " + end + "] out of range: the data section has "
          + dataSize + " bytes (truncated file?)");
    }
    long numel = 1;
    for (long d : shape) {
      numel = Math.multiplyExact(numel, d);
    }
    long expected = Math.multiplyExact(numel, dtype.bytes());
    if (end - begin != expected) {
      throw new IOException(where + ": data_offsets [" + begin + ", " + end + "] hold " + (end - begin)
          + " bytes but shape " + java.util.Arrays.toString(shape) + " of " + dtype + " needs " + expected);
    }
    return new TensorInfo(name, dtype, shape, begin, end);
  }

  private static long[] longs(JsonElement el, String what) throws IOException {
    if (el == null || !el.isJsonArray()) {
      throw new IOException(what + " must be a list of non-negative integers, found " + el);
    }
    long[] out = new long[el.getAsJsonArray().size()];
    for (int i = 0; i < out.length; i++) {
      JsonElement v = el.getAsJsonArray().get(i);
      if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isNumber() || v.getAsDouble() < 0
          || v.getAsDouble() != Math.rint(v.getAsDouble())) {
        throw new IOException(what + " must be a list of non-negative integers, found " + el);
      }
      out[i] = v.getAsLong();
    }
    return out;
  }

  private static void checkNoOverlap(Path file, Map<String, TensorInfo> tensors) throws IOException {
    List<TensorInfo> sorted = new ArrayList<>(tensors.values());
    sorted.sort((a, b) -> a.begin() != b.begin() ? Long.compare(a.begin(), b.begin()) : Long.compare(a.end(), b.end()));
    for (int i = 1; i < sorted.size(); i++) {
      TensorInfo prev = sorted.get(i - 1);
      TensorInfo cur = sorted.get(i);
      if (cur.begin() < prev.end()) {
        throw new IOException(file + ": tensors '" + prev.name() + "' [" + prev.begin() + ", " + prev.end()
            + ") and '" + cur.name() + "' [" + cur.begin() + ", " + cur.end() + ") overlap");
      }
    }
  }

  private static void readFully(FileChannel ch, ByteBuffer buf, long position, Path file) throws IOException {
    long pos = position;
    while (buf.hasRemaining()) {
      int n = ch.read(buf, pos);
      if (n < 0) {
        throw new EOFException(file + ": unexpected end of file at byte " + pos);
      }
      pos += n;
    }
  }

  public Path file() {
    return file;
  }

  /** The {@code __metadata__} strings (e.g. {@code format: pt}). */
  public Map<String, String> metadata() {
    return metadata;
  }

  /** Tensor names in header order. */
  public List<String> names() {
    return List.copyOf(tensors.keySet());
  }

  public Map<String, TensorInfo> tensors() {
    return tensors;
  }

  public TensorInfo info(String name) {
    TensorInfo info = tensors.get(name);
    if (info == null) {
      throw new IllegalArgumentException(file + ": no tensor named '" + name + "'");
    }
    return info;
  }

  /** The raw little-endian bytes of one tensor, in a fresh direct buffer. */
  public ByteBuffer readBytes(String name) throws IOException {
    TensorInfo info = info(name);
    long n = info.end() - info.begin();
    if (n > Integer.MAX_VALUE) {
      throw new IOException(file + ": tensor '" + name + "' is larger than 2 GB, which one buffer cannot hold");
    }
    ByteBuffer buf = ByteBuffer.allocateDirect((int) n).order(ByteOrder.LITTLE_ENDIAN);
    readFully(channel, buf, dataStart + info.begin(), file);
    return buf.flip();
  }

  /** One tensor as float32 values, whatever its floating dtype (F16 and BF16 are widened exactly). */
  public float[] readFloats(String name) throws IOException {
    TensorInfo info = info(name);
    ByteBuffer raw = readBytes(name);
    float[] out = new float[Math.toIntExact(info.numel())];
    switch (info.dtype()) {
      case F32 -> raw.asFloatBuffer().get(out);
      case F64 -> {
        for (int i = 0; i < out.length; i++) {
          out[i] = (float) raw.getDouble(i * 8);
        }
      }
      case F16 -> {
        for (int i = 0; i < out.length; i++) {
          out[i] = halfToFloat(raw.getShort(i * 2));
        }
      }
      case BF16 -> {
        for (int i = 0; i < out.length; i++) {
          out[i] = Float.intBitsToFloat((raw.getShort(i * 2) & 0xffff) << 16);
        }
      }
      default -> throw new IOException(file + ": tensor '" + name + "' has dtype " + info.dtype()
          + ", expected a floating type (F32, F16, BF16, F64)");
    }
    return out;
  }

  /**
   * One tensor as an NDArray owned by {@code manager}. F32, F16, F64 and integer types keep their type; BF16
   * becomes F32 (DJL's PyTorch engine cannot hold bfloat16).
   */
  public NDArray load(String name, NDManager manager) throws IOException {
    TensorInfo info = info(name);
    Shape shape = new Shape(info.shape());
    if (info.dtype() == SafeTensorsDtype.BF16) {
      return loadFloat32(name, manager);
    }
    ByteBuffer raw = readBytes(name).order(ByteOrder.nativeOrder());
    if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
      throw new UnsupportedOperationException("safetensors data is little-endian; this machine is not");
    }
    // create() may alias a direct buffer; duplicate() gives the tensor memory libtorch owns.
    try (NDArray view = manager.create(raw, shape, info.dtype().djlType())) {
      return view.duplicate();
    }
  }

  /**
   * One floating tensor (F32, F16, BF16 or F64) as a float32 NDArray on {@code manager}'s device, in memory
   * libtorch owns, without passing through the Java heap: the file's bytes are memory-mapped, viewed as a tensor
   * of their stored type and converted inside libtorch (F16 and F64 by {@code toType}, F32 by a copy). BF16,
   * which the engine cannot hold, is widened exactly (its 16 bits become the high half of a float32) straight
   * into a fresh float32 tensor. The peak is the float32 tensor itself plus mapped file pages.
   */
  public NDArray loadFloat32(String name, NDManager manager) throws IOException {
    TensorInfo info = info(name);
    Shape shape = new Shape(info.shape());
    long bytes = info.end() - info.begin();
    if (bytes > Integer.MAX_VALUE) {
      throw new IOException(file + ": tensor '" + name + "' is larger than 2 GB, which one mapping cannot hold");
    }
    if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
      throw new UnsupportedOperationException("safetensors data is little-endian; this machine is not");
    }
    try (NDManager cpu = manager.newSubManager(ai.djl.Device.cpu())) {
      NDArray f32;
      if (bytes == 0) {
        f32 = cpu.zeros(shape, DataType.FLOAT32);
      } else {
        ByteBuffer mapped = channel.map(FileChannel.MapMode.READ_ONLY, dataStart + info.begin(), bytes)
            .order(ByteOrder.LITTLE_ENDIAN);
        try {
          f32 = switch (info.dtype()) {
            // The view aliases the mapping; the copy (or conversion) is memory libtorch owns.
            case F32 -> {
              try (NDArray view = cpu.create(mapped, shape, DataType.FLOAT32)) {
                yield view.duplicate();
              }
            }
            case F16, F64 -> {
              try (NDArray view = cpu.create(mapped, shape, info.dtype().djlType())) {
                yield view.toType(DataType.FLOAT32, true);
              }
            }
            case BF16 -> {
              if (info.numel() * 4 > Integer.MAX_VALUE) {
                throw new IOException(file + ": tensor '" + name + "' is larger than 2 GB as float32");
              }
              yield widenBf16(mapped, cpu.create(shape, DataType.FLOAT32), info.numel());
            }
            default -> throw new IOException(file + ": tensor '" + name + "' has dtype " + info.dtype()
                + ", expected a floating type (F32, F16, BF16, F64)");
          };
        } finally {
          java.lang.ref.Reference.reachabilityFence(mapped); // the views above read it until here
        }
      }
      NDArray out = f32.toDevice(manager.getDevice(), false);
      out.attach(manager);
      return out;
    }
  }

  /** Writes each bf16 of {@code src} as the float32 with the same high 16 bits into {@code dst}'s own memory. */
  private static NDArray widenBf16(ByteBuffer src, NDArray dst, long count) {
    // A view of memory libtorch owns (dst was allocated by the engine): writing through it fills the tensor.
    ByteBuffer out = dst.toByteBuffer(true).order(ByteOrder.nativeOrder());
    for (int i = 0; i < count; i++) {
      out.putInt(i * 4, (src.getShort(i * 2) & 0xffff) << 16);
    }
    return dst;
  }

  /** IEEE 754 binary16 → binary32, exact (Float.float16ToFloat arrives only in Java 20). */
  static float halfToFloat(short half) {
    int bits = half & 0xffff;
    int sign = (bits & 0x8000) << 16;
    int exp = (bits >>> 10) & 0x1f;
    int mant = bits & 0x3ff;
    if (exp == 0x1f) {
      return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
    }
    if (exp == 0) {
      float v = mant * 0x1p-24f;
      return sign != 0 ? -v : v;
    }
    return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }

  /** The dtypes of the safetensors format that this reader understands. */
  public enum SafeTensorsDtype {
    // Declaration order is the format's own (it decides the writer's tensor order).
    BOOL(1, DataType.BOOLEAN), U8(1, DataType.UINT8), I8(1, DataType.INT8), I16(2, DataType.INT16),
    F16(2, DataType.FLOAT16), BF16(2, DataType.FLOAT32), I32(4, DataType.INT32), F32(4, DataType.FLOAT32),
    F64(8, DataType.FLOAT64), I64(8, DataType.INT64);

    private final int bytes;
    private final DataType djlType;

    SafeTensorsDtype(int bytes, DataType djlType) {
      this.bytes = bytes;
      this.djlType = djlType;
    }

    public int bytes() {
      return bytes;
    }

    /** The DJL type a tensor of this dtype loads as (BF16 loads as FLOAT32). */
    public DataType djlType() {
      return djlType;
    }

    /** The safetensors dtype for a DJL type; BFLOAT16 is refused (the engine aborts on it). */
    public static SafeTensorsDtype of(DataType type) {
      return switch (type) {
        case BOOLEAN -> BOOL;
        case UINT8 -> U8;
        case INT8 -> I8;
        case INT16 -> I16;
        case FLOAT16 -> F16;
        case INT32 -> I32;
        case FLOAT32 -> F32;
        case FLOAT64 -> F64;
        case INT64 -> I64;
        default -> throw new IllegalArgumentException("no safetensors dtype for " + type);
      };
    }
  }
}
