package io.sparkformers.datasets;

import java.util.Locale;

/** The file formats {@link DatasetLoader} reads, named as in Hugging Face's {@code load_dataset}. */
public enum DataFormat {
  /** Comma-separated values with a header row (delimiter and quote settable in {@link LoadOptions}). */
  CSV,
  /** JSON lines (one object per line) or a file holding one JSON array of objects. */
  JSON,
  PARQUET,
  /** Arrow IPC, file or stream format. */
  ARROW,
  /** One example per line, in a column named {@code text}. */
  TEXT;

  /** {@code csv}, {@code json}, {@code jsonl}, {@code parquet}, {@code arrow}, {@code text} (any case). */
  public static DataFormat parse(String name) {
    String n = name.toLowerCase(Locale.ROOT);
    switch (n) {
      case "csv": case "tsv": return CSV;
      case "json": case "jsonl": case "ndjson": return JSON;
      case "parquet": return PARQUET;
      case "arrow": case "ipc": case "feather": return ARROW;
      case "text": case "txt": return TEXT;
      default:
        throw new IllegalArgumentException("Unknown format '" + name + "': expected csv, json, jsonl, parquet,"
            + " arrow or text");
    }
  }
}
