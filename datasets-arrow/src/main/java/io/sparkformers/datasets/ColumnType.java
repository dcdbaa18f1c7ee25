package io.sparkformers.datasets;

import java.util.List;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;

/**
 * The type of a column, with the Java class its values have when read one at a time. Every column is
 * nullable, as in Hugging Face datasets.
 */
public enum ColumnType {
  INT32(Integer.class),
  INT64(Long.class),
  FLOAT32(Float.class),
  FLOAT64(Double.class),
  BOOL(Boolean.class),
  STRING(String.class),
  /** A list of 32-bit ints per row (token ids), read as {@code int[]}. */
  INT32_LIST(int[].class),
  /** Read as {@code long[]}. */
  INT64_LIST(long[].class),
  /** Read as {@code float[]}. */
  FLOAT32_LIST(float[].class),
  /** Read as {@code double[]}. */
  FLOAT64_LIST(double[].class),
  /** A list of strings, e.g. the references of a prediction (read back as {@code String[]}). */
  STRING_LIST(String[].class);

  private final Class<?> javaClass;

  ColumnType(Class<?> javaClass) {
    this.javaClass = javaClass;
  }

  /** The class of the values of this column when read one row at a time. */
  public Class<?> javaClass() {
    return javaClass;
  }

  public boolean isList() {
    return ordinal() >= INT32_LIST.ordinal();
  }

  /** The Arrow field that holds a column of this type. */
  public Field toArrowField(String name) {
    if (!isList()) {
      return new Field(name, FieldType.nullable(scalarArrowType(this)), null);
    }
    ColumnType element = elementType();
    Field item = new Field("item", FieldType.nullable(scalarArrowType(element)), null);
    return new Field(name, FieldType.nullable(ArrowType.List.INSTANCE), List.of(item));
  }

  /** The type of one element of a list column. */
  public ColumnType elementType() {
    switch (this) {
      case INT32_LIST: return INT32;
      case INT64_LIST: return INT64;
      case FLOAT32_LIST: return FLOAT32;
      case FLOAT64_LIST: return FLOAT64;
      case STRING_LIST: return STRING;
      default: throw new IllegalStateException(this + " is not a list type");
    }
  }

  private static ArrowType scalarArrowType(ColumnType type) {
    switch (type) {
      case INT32: return new ArrowType.Int(32, true);
      case INT64: return new ArrowType.Int(64, true);
      case FLOAT32: return new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE);
      case FLOAT64: return new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE);
      case BOOL: return ArrowType.Bool.INSTANCE;
      case STRING: return ArrowType.Utf8.INSTANCE;
      default: throw new IllegalStateException(type + " is not a scalar type");
    }
  }

  /** The column type of an Arrow field, or an error naming the field and its unsupported type. */
  public static ColumnType fromArrowField(Field field) {
    ArrowType type = field.getType();
    if (type instanceof ArrowType.List || type instanceof ArrowType.LargeList) {
      ColumnType element = scalarFromArrow(field.getChildren().get(0).getType(), field);
      switch (element) {
        case INT32: return INT32_LIST;
        case INT64: return INT64_LIST;
        case FLOAT32: return FLOAT32_LIST;
        case FLOAT64: return FLOAT64_LIST;
        case STRING: return STRING_LIST;
        default: throw unsupported(field);
      }
    }
    return scalarFromArrow(type, field);
  }

  private static ColumnType scalarFromArrow(ArrowType type, Field field) {
    if (type instanceof ArrowType.Int) {
      ArrowType.Int i = (ArrowType.Int) type;
      if (!i.getIsSigned()) {
        throw unsupported(field);
      }
      return i.getBitWidth() <= 32 ? INT32 : INT64;
    }
    if (type instanceof ArrowType.FloatingPoint) {
      FloatingPointPrecision p = ((ArrowType.FloatingPoint) type).getPrecision();
      return p == FloatingPointPrecision.DOUBLE ? FLOAT64 : FLOAT32;
    }
    if (type instanceof ArrowType.Bool) {
      return BOOL;
    }
    if (type instanceof ArrowType.Utf8 || type instanceof ArrowType.LargeUtf8) {
      return STRING;
    }
    throw unsupported(field);
  }

  private static IllegalArgumentException unsupported(Field field) {
    return new IllegalArgumentException("Column '" + field.getName() + "' has Arrow type " + field.getType()
        + (field.getChildren().isEmpty() ? "" : " of " + field.getChildren().get(0).getType())
        + "; supported: int8-64, float, double, bool, utf8 and lists of int32, int64, float, double");
  }
}
