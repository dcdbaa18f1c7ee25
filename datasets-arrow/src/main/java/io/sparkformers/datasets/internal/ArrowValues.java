package io.sparkformers.datasets.internal;

import io.sparkformers.datasets.ColumnType;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.complex.ListVector;

/** Reads and writes single values of our {@link ColumnType}s from and to Arrow vectors. */
public final class ArrowValues {
  private ArrowValues() {}

  /** The value at {@code row} as the column type's Java class (see {@link ColumnType#javaClass()}), or null. */
  public static Object get(FieldVector vector, ColumnType type, int row) {
    if (vector.isNull(row)) {
      return null;
    }
    switch (type) {
      case INT32: return ((IntVector) vector).get(row);
      case INT64: return ((BigIntVector) vector).get(row);
      case FLOAT32: return ((Float4Vector) vector).get(row);
      case FLOAT64: return ((Float8Vector) vector).get(row);
      case BOOL: return ((BitVector) vector).get(row) != 0;
      case STRING: return new String(((VarCharVector) vector).get(row), StandardCharsets.UTF_8);
      default: break;
    }
    ListVector list = (ListVector) vector;
    int start = list.getElementStartIndex(row);
    int n = list.getElementEndIndex(row) - start;
    FieldVector data = list.getDataVector();
    switch (type) {
      case INT32_LIST: {
        int[] out = new int[n];
        IntVector d = (IntVector) data;
        for (int k = 0; k < n; k++) {
          out[k] = d.get(start + k);
        }
        return out;
      }
      case INT64_LIST: {
        long[] out = new long[n];
        BigIntVector d = (BigIntVector) data;
        for (int k = 0; k < n; k++) {
          out[k] = d.get(start + k);
        }
        return out;
      }
      case FLOAT32_LIST: {
        float[] out = new float[n];
        Float4Vector d = (Float4Vector) data;
        for (int k = 0; k < n; k++) {
          out[k] = d.get(start + k);
        }
        return out;
      }
      case FLOAT64_LIST: {
        double[] out = new double[n];
        Float8Vector d = (Float8Vector) data;
        for (int k = 0; k < n; k++) {
          out[k] = d.get(start + k);
        }
        return out;
      }
      case STRING_LIST: {
        String[] out = new String[n];
        VarCharVector d = (VarCharVector) data;
        for (int k = 0; k < n; k++) {
          out[k] = new String(d.get(start + k), StandardCharsets.UTF_8);
        }
        return out;
      }
      default: throw new IllegalStateException(type.toString());
    }
  }

  /**
   * Sets {@code value} at {@code row}, converting what converts without loss (an Integer into an INT64
   * column, a List of numbers into a list column); anything else fails naming the column and what was given.
   */
  public static void set(FieldVector vector, ColumnType type, int row, Object value) {
    if (value == null) {
      if (type.isList()) {
        ((ListVector) vector).setNull(row);
      } else {
        setNullScalar(vector, row);
      }
      return;
    }
    try {
      switch (type) {
        case INT32: ((IntVector) vector).setSafe(row, toInt(value)); return;
        case INT64: ((BigIntVector) vector).setSafe(row, toLong(value)); return;
        case FLOAT32: ((Float4Vector) vector).setSafe(row, ((Number) value).floatValue()); return;
        case FLOAT64: ((Float8Vector) vector).setSafe(row, ((Number) value).doubleValue()); return;
        case BOOL: ((BitVector) vector).setSafe(row, ((Boolean) value) ? 1 : 0); return;
        case STRING: ((VarCharVector) vector).setSafe(row, ((String) value).getBytes(StandardCharsets.UTF_8));
          return;
        default: break;
      }
      setList((ListVector) vector, type, row, value);
    } catch (ClassCastException | ArithmeticException e) {
      throw new IllegalArgumentException("Column '" + vector.getName() + "' is " + type + " but got "
          + describe(value), e);
    }
  }

  private static void setNullScalar(FieldVector vector, int row) {
    // setNull does not grow the vector; make room first.
    while (vector.getValueCapacity() <= row) {
      vector.reAlloc();
    }
    vector.setNull(row);
  }

  private static void setList(ListVector list, ColumnType type, int row, Object value) {
    FieldVector data = list.getDataVector();
    int start = list.startNewValue(row);
    int n;
    if (value instanceof int[] && type == ColumnType.INT32_LIST) {
      int[] a = (int[]) value;
      n = a.length;
      IntVector d = (IntVector) data;
      // Bulk copy: token id lists are the hot path of tokenized datasets.
      while (d.getValueCapacity() < start + n) {
        d.reAlloc();
      }
      if (n > 0) {
        d.getDataBuffer().nioBuffer((long) start * 4, n * 4).order(java.nio.ByteOrder.LITTLE_ENDIAN).asIntBuffer().put(a);
        org.apache.arrow.memory.ArrowBuf validity = d.getValidityBuffer();
        for (int k = start; k < start + n; k++) {
          org.apache.arrow.vector.BitVectorHelper.setBit(validity, k);
        }
      }
    } else if (value instanceof float[] && type == ColumnType.FLOAT32_LIST) {
      float[] a = (float[]) value;
      n = a.length;
      Float4Vector d = (Float4Vector) data;
      for (int k = 0; k < n; k++) {
        d.setSafe(start + k, a[k]);
      }
    } else {
      List<?> items = asList(value);
      n = items.size();
      ColumnType element = type.elementType();
      for (int k = 0; k < n; k++) {
        Object item = items.get(k);
        if (item == null) {
          throw new IllegalArgumentException("Column '" + list.getName() + "' is " + type
              + " and cannot hold a null element (element " + k + ")");
        }
        set(data, element, start + k, item);
      }
    }
    list.endValue(row, n);
  }

  private static List<?> asList(Object value) {
    if (value instanceof List) {
      return (List<?>) value;
    }
    if (value instanceof String[]) {
      return java.util.Arrays.asList((String[]) value);
    }
    if (value instanceof int[]) {
      return java.util.Arrays.stream((int[]) value).boxed().toList();
    }
    if (value instanceof long[]) {
      return java.util.Arrays.stream((long[]) value).boxed().toList();
    }
    if (value instanceof double[]) {
      return java.util.Arrays.stream((double[]) value).boxed().toList();
    }
    if (value instanceof float[]) {
      float[] f = (float[]) value;
      Float[] boxed = new Float[f.length];
      for (int i = 0; i < f.length; i++) {
        boxed[i] = f[i];
      }
      return List.of(boxed);
    }
    throw new ClassCastException(value.getClass().getName());
  }

  static int toInt(Object value) {
    if (value instanceof Integer || value instanceof Short || value instanceof Byte) {
      return ((Number) value).intValue();
    }
    if (value instanceof Long) {
      return Math.toIntExact((Long) value);
    }
    throw new ClassCastException(value.getClass().getName());
  }

  static long toLong(Object value) {
    if (value instanceof Long || value instanceof Integer || value instanceof Short || value instanceof Byte) {
      return ((Number) value).longValue();
    }
    throw new ClassCastException(value.getClass().getName());
  }

  /** A value and its class, for error messages. */
  public static String describe(Object value) {
    if (value == null) {
      return "null";
    }
    String shown = value instanceof int[] ? java.util.Arrays.toString((int[]) value)
        : value instanceof long[] ? java.util.Arrays.toString((long[]) value)
        : value instanceof float[] ? java.util.Arrays.toString((float[]) value)
        : value instanceof double[] ? java.util.Arrays.toString((double[]) value)
        : value instanceof String[] ? java.util.Arrays.toString((String[]) value)
        : String.valueOf(value);
    if (shown.length() > 60) {
      shown = shown.substring(0, 57) + "...";
    }
    return value.getClass().getSimpleName() + " " + shown;
  }

  /** The column type a Java value would be stored as, or null when the value is null. */
  public static ColumnType inferType(Object value) {
    if (value == null) {
      return null;
    }
    if (value instanceof Integer || value instanceof Short || value instanceof Byte) {
      return ColumnType.INT32;
    }
    if (value instanceof Long) {
      return ColumnType.INT64;
    }
    if (value instanceof Float) {
      return ColumnType.FLOAT32;
    }
    if (value instanceof Double) {
      return ColumnType.FLOAT64;
    }
    if (value instanceof Boolean) {
      return ColumnType.BOOL;
    }
    if (value instanceof String) {
      return ColumnType.STRING;
    }
    if (value instanceof int[]) {
      return ColumnType.INT32_LIST;
    }
    if (value instanceof long[]) {
      return ColumnType.INT64_LIST;
    }
    if (value instanceof float[]) {
      return ColumnType.FLOAT32_LIST;
    }
    if (value instanceof double[]) {
      return ColumnType.FLOAT64_LIST;
    }
    if (value instanceof String[]) {
      return ColumnType.STRING_LIST;
    }
    if (value instanceof List) {
      ColumnType element = null;
      for (Object item : (List<?>) value) {
        ColumnType t = inferType(item);
        element = element == null ? t : (t == ColumnType.FLOAT64 || t == ColumnType.FLOAT32) && !element.name()
            .startsWith("FLOAT") ? t : element;
      }
      if (element == null || element == ColumnType.INT64) {
        return ColumnType.INT64_LIST;
      }
      switch (element) {
        case INT32: return ColumnType.INT32_LIST;
        case FLOAT32: return ColumnType.FLOAT32_LIST;
        case FLOAT64: return ColumnType.FLOAT64_LIST;
        case STRING: return ColumnType.STRING_LIST;
        default: break;
      }
    }
    throw new IllegalArgumentException("Cannot store " + describe(value)
        + " in a dataset: use Integer, Long, Float, Double, Boolean, String, int[], long[], float[], double[] or"
        + " String[]");
  }
}
