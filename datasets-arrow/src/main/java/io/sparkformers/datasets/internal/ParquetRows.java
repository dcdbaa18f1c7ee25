package io.sparkformers.datasets.internal;

import io.sparkformers.datasets.ColumnType;
import io.sparkformers.datasets.Features;
import io.sparkformers.datasets.internal.InputFiles.InputFile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.column.page.PageReadStore;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.convert.GroupRecordConverter;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.parquet.io.ColumnIOFactory;
import org.apache.parquet.io.MessageColumnIO;
import org.apache.parquet.io.RecordReader;
import org.apache.parquet.schema.GroupType;
import org.apache.parquet.schema.LogicalTypeAnnotation;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType;
import org.apache.parquet.schema.Type;

/**
 * Rows of a Parquet file through parquet-hadoop (Spark's own Parquet): int32/int64/float/double/boolean,
 * strings, and lists of numbers in Parquet's standard three-level LIST layout.
 */
public final class ParquetRows {
  private ParquetRows() {}

  private static ParquetFileReader open(InputFiles inputs, InputFile f) throws IOException {
    return ParquetFileReader.open(HadoopInputFile.fromPath(new Path(f.uri()), inputs.configuration()));
  }

  public static Features features(InputFiles inputs, InputFile f) {
    if (f.size() == 0) {
      return Features.empty();
    }
    try (ParquetFileReader r = open(inputs, f)) {
      return featuresOf(r.getFooter().getFileMetaData().getSchema(), f);
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot read Parquet file " + f, e);
    } catch (RuntimeException e) {
      if (e.getMessage() != null && e.getMessage().startsWith(f.uri())) {
        throw e;
      }
      throw new IllegalArgumentException(f + ": not a readable Parquet file: " + e.getMessage(), e);
    }
  }

  private static Features featuresOf(MessageType schema, InputFile f) {
    Features.Builder b = Features.builder();
    for (Type field : schema.getFields()) {
      b.add(field.getName(), typeOf(field, f));
    }
    return b.build();
  }

  private static ColumnType typeOf(Type field, InputFile f) {
    if (field.isPrimitive()) {
      return primitive(field.asPrimitiveType(), f, field.getName());
    }
    GroupType g = field.asGroupType();
    if (g.getLogicalTypeAnnotation() instanceof LogicalTypeAnnotation.ListLogicalTypeAnnotation
        && g.getFieldCount() == 1 && !g.getType(0).isPrimitive()
        && g.getType(0).asGroupType().getFieldCount() == 1 && g.getType(0).asGroupType().getType(0).isPrimitive()) {
      ColumnType element = primitive(g.getType(0).asGroupType().getType(0).asPrimitiveType(), f, field.getName());
      switch (element) {
        case INT32: return ColumnType.INT32_LIST;
        case INT64: return ColumnType.INT64_LIST;
        case FLOAT32: return ColumnType.FLOAT32_LIST;
        case FLOAT64: return ColumnType.FLOAT64_LIST;
        case STRING: return ColumnType.STRING_LIST;
        default: break;
      }
    }
    throw new IllegalArgumentException(f + ": column '" + field.getName() + "' has Parquet type " + field
        + "; supported: numbers, booleans, strings and lists of numbers");
  }

  private static ColumnType primitive(PrimitiveType p, InputFile f, String column) {
    if (p.getRepetition() == Type.Repetition.REPEATED) {
      throw new IllegalArgumentException(f + ": column '" + column + "' is a bare repeated field; use a LIST");
    }
    switch (p.getPrimitiveTypeName()) {
      case INT32: return ColumnType.INT32;
      case INT64: return ColumnType.INT64;
      case FLOAT: return ColumnType.FLOAT32;
      case DOUBLE: return ColumnType.FLOAT64;
      case BOOLEAN: return ColumnType.BOOL;
      case BINARY:
        if (p.getLogicalTypeAnnotation() instanceof LogicalTypeAnnotation.StringLogicalTypeAnnotation) {
          return ColumnType.STRING;
        }
        break;
      default: break;
    }
    throw new IllegalArgumentException(f + ": column '" + column + "' has Parquet type " + p
        + "; supported: numbers, booleans, strings and lists of numbers");
  }

  public static void read(InputFiles inputs, InputFile f, Features features, Consumer<Map<String, Object>> sink) {
    read(inputs, f, features, 0, first -> { }, sink);
  }

  /**
   * Reads from the row group that holds row {@code fromRow}: the groups before it are skipped undecoded, and
   * {@code firstRow} is told the number of the first row given to {@code sink} (at most {@code fromRow}) first.
   */
  public static void read(InputFiles inputs, InputFile f, Features features, long fromRow,
      java.util.function.LongConsumer firstRow, Consumer<Map<String, Object>> sink) {
    if (f.size() == 0) {
      firstRow.accept(0);
      return;
    }
    try (ParquetFileReader r = open(inputs, f)) {
      MessageType schema = r.getFooter().getFileMetaData().getSchema();
      Features found = featuresOf(schema, f);
      List<String> names = found.names();
      long start = 0;
      for (org.apache.parquet.hadoop.metadata.BlockMetaData group : r.getRowGroups()) {
        if (start + group.getRowCount() > fromRow) {
          break;
        }
        r.skipNextRowGroup();
        start += group.getRowCount();
      }
      firstRow.accept(start);
      PageReadStore pages;
      while ((pages = r.readNextRowGroup()) != null) {
        MessageColumnIO io = new ColumnIOFactory().getColumnIO(schema);
        RecordReader<Group> records = io.getRecordReader(pages, new GroupRecordConverter(schema));
        for (long i = 0; i < pages.getRowCount(); i++) {
          Group g = records.read();
          Map<String, Object> row = new LinkedHashMap<>();
          for (String n : features.names()) {
            row.put(n, null);
          }
          for (int c = 0; c < names.size(); c++) {
            row.put(names.get(c), value(g, c, found.type(names.get(c))));
          }
          sink.accept(row);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot read Parquet file " + f, e);
    }
  }

  private static Object value(Group g, int field, ColumnType type) {
    if (g.getFieldRepetitionCount(field) == 0) {
      return null;
    }
    if (!type.isList()) {
      return scalar(g, field, 0, type);
    }
    Group list = g.getGroup(field, 0);
    int n = list.getFieldRepetitionCount(0);
    List<Object> items = new ArrayList<>(n);
    for (int k = 0; k < n; k++) {
      Group element = list.getGroup(0, k);
      items.add(element.getFieldRepetitionCount(0) == 0 ? null : scalar(element, 0, 0, type.elementType()));
    }
    return items;
  }

  private static Object scalar(Group g, int field, int index, ColumnType type) {
    switch (type) {
      case INT32: return g.getInteger(field, index);
      case INT64: return g.getLong(field, index);
      case FLOAT32: return g.getFloat(field, index);
      case FLOAT64: return g.getDouble(field, index);
      case BOOL: return g.getBoolean(field, index);
      case STRING: return g.getString(field, index);
      default: throw new IllegalStateException(type.toString());
    }
  }
}
