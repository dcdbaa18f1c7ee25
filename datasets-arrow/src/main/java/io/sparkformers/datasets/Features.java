package io.sparkformers.datasets;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

/** The schema of a dataset: column names in order, each with its {@link ColumnType}. Immutable. */
public final class Features implements java.io.Serializable {
  private static final long serialVersionUID = 1L;
  private final LinkedHashMap<String, ColumnType> columns;

  private Features(Map<String, ColumnType> columns) {
    this.columns = new LinkedHashMap<>(columns);
  }

  public static Features of(Map<String, ColumnType> columns) {
    return new Features(columns);
  }

  /** {@code Features.of("text", STRING, "label", INT64)}: names and types alternating. */
  public static Features of(Object... namesAndTypes) {
    if (namesAndTypes.length % 2 != 0) {
      throw new IllegalArgumentException("Expected name, type pairs; got " + namesAndTypes.length + " values");
    }
    Builder b = builder();
    for (int i = 0; i < namesAndTypes.length; i += 2) {
      b.add((String) namesAndTypes[i], (ColumnType) namesAndTypes[i + 1]);
    }
    return b.build();
  }

  public static Features empty() {
    return new Features(Map.of());
  }

  public static Builder builder() {
    return new Builder();
  }

  public static Features fromArrow(Schema schema) {
    Builder b = builder();
    for (Field f : schema.getFields()) {
      b.add(f.getName(), ColumnType.fromArrowField(f));
    }
    return b.build();
  }

  public Schema toArrow() {
    List<Field> fields = new ArrayList<>();
    columns.forEach((name, type) -> fields.add(type.toArrowField(name)));
    return new Schema(fields);
  }

  public List<String> names() {
    return List.copyOf(columns.keySet());
  }

  public int size() {
    return columns.size();
  }

  public boolean contains(String name) {
    return columns.containsKey(name);
  }

  /** The type of a column, or an error listing the columns there are. */
  public ColumnType type(String name) {
    ColumnType t = columns.get(name);
    if (t == null) {
      throw new IllegalArgumentException("No column '" + name + "'; columns are " + names());
    }
    return t;
  }

  public int indexOf(String name) {
    int i = 0;
    for (String n : columns.keySet()) {
      if (n.equals(name)) {
        return i;
      }
      i++;
    }
    throw new IllegalArgumentException("No column '" + name + "'; columns are " + names());
  }

  public Map<String, ColumnType> asMap() {
    return Collections.unmodifiableMap(columns);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Features && new ArrayList<>(columns.entrySet())
        .equals(new ArrayList<>(((Features) o).columns.entrySet()));
  }

  @Override
  public int hashCode() {
    return Objects.hash(new ArrayList<>(columns.entrySet()));
  }

  /** {@code {text: STRING, label: INT64}}. */
  @Override
  public String toString() {
    StringBuilder s = new StringBuilder("{");
    columns.forEach((n, t) -> s.append(s.length() > 1 ? ", " : "").append(n).append(": ").append(t));
    return s.append('}').toString();
  }

  /** Builds {@link Features} column by column, in order. */
  public static final class Builder {
    private final LinkedHashMap<String, ColumnType> columns = new LinkedHashMap<>();

    public Builder add(String name, ColumnType type) {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(type, "type");
      if (columns.put(name, type) != null) {
        throw new IllegalArgumentException("Column '" + name + "' is named twice");
      }
      return this;
    }

    public Features build() {
      return new Features(columns);
    }
  }
}
