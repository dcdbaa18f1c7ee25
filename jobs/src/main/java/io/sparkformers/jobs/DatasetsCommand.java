package io.sparkformers.jobs;

import io.sparkformers.datasets.DataFormat;
import io.sparkformers.datasets.Dataset;
import io.sparkformers.datasets.DatasetInfo;
import io.sparkformers.datasets.DatasetWriters;
import io.sparkformers.datasets.LoadOptions;
import java.io.ByteArrayOutputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code sparkformers datasets convert|info|head}: turn csv/json/parquet/arrow/text files into an Arrow dataset
 * folder, describe one, print its first rows. Exit codes: 0 done, 1 bad input (the message names the file,
 * line or column), 2 a usage error.
 */
@Command(
    name = "datasets",
    mixinStandardHelpOptions = true,
    description = "Convert files to Arrow dataset folders and inspect them.",
    subcommands = {DatasetsCommand.Convert.class, DatasetsCommand.Info.class, DatasetsCommand.Head.class})
public final class DatasetsCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "Missing subcommand: convert, info or head");
  }

  /** Runs {@code body}; bad input prints one line, as every command does, instead of a stack trace. */
  static int guarded(CommandLine.Model.CommandSpec spec, Callable<Integer> body) throws Exception {
    try {
      return body.call();
    } catch (IllegalArgumentException | IllegalStateException | UncheckedIOException e) {
      return ExitCodes.report(spec, e);
    }
  }

  /** {@code datasets convert --format F INPUT... --output DIR}. */
  @Command(name = "convert", mixinStandardHelpOptions = true,
      description = "Load files (local paths, globs, folders, hdfs:// or s3a:// URIs) and write an Arrow dataset folder.")
  static final class Convert implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Option(names = "--format", description = "csv, tsv, json (also JSON lines), parquet, arrow, text (default: the"
        + " first INPUT's extension, .gz aside, as train does)")
    String format;

    @Parameters(arity = "1..*", paramLabel = "INPUT", description = "files, globs or folders")
    List<String> inputs;

    @Option(names = "--output", required = true, paramLabel = "DIR", description = "the dataset folder to create")
    Path output;

    @Option(names = "--delimiter", description = "CSV field delimiter (default ,; \\t for tabs)")
    String delimiter;

    @Option(names = "--cache-dir", paramLabel = "DIR",
        description = "cache folder (default $SPARKFORMERS_DATASETS_CACHE or ~/.cache/sparkformers/datasets)")
    Path cacheDir;

    @Option(names = "--hadoop", paramLabel = "KEY=VALUE", description = "a Hadoop setting, e.g. fs.s3a.endpoint=...")
    Map<String, String> hadoop = Map.of();

    @Override
    public Integer call() throws Exception {
      return guarded(spec, () -> {
        LoadOptions.Builder options = LoadOptions.builder().cacheDir(cacheDir).hadoopConfiguration(hadoop);
        String name = format != null ? format : io.sparkformers.jobs.train.JobConfig.extensionFormat(inputs.get(0));
        if (name == null) {
          throw new CommandLine.ParameterException(spec.commandLine(), "--format is needed: '" + inputs.get(0)
              + "' has no extension to tell the format (csv, tsv, json, jsonl, parquet, arrow or text)");
        }
        // A tsv file is CSV with tabs, unless --delimiter says otherwise.
        String fieldDelimiter = delimiter == null && name.equalsIgnoreCase("tsv") ? "\\t" : delimiter;
        if (fieldDelimiter != null) {
          String d = fieldDelimiter.equals("\\t") ? "\t" : fieldDelimiter;
          if (d.length() != 1) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--delimiter must be one character");
          }
          options.delimiter(d.charAt(0));
        }
        DataFormat f;
        try {
          f = DataFormat.parse(name);
        } catch (IllegalArgumentException e) {
          throw new CommandLine.ParameterException(spec.commandLine(), (format == null ? "--format (from the"
              + " extension of " + inputs.get(0) + "): " : "") + e.getMessage());
        }
        try (Dataset d = Dataset.load(f, options.build(), inputs.toArray(new String[0]))) {
          d.saveToDisk(output);
          PrintWriter out = spec.commandLine().getOut();
          out.println("Wrote " + d.numRows() + " rows " + d.features() + " to " + output);
          out.flush();
        }
        return 0;
      });
    }
  }

  /** {@code datasets info DIR}. */
  @Command(name = "info", mixinStandardHelpOptions = true,
      description = "Print a dataset folder's rows, schema, fingerprint and size.")
  static final class Info implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "DIR")
    Path folder;

    @Override
    public Integer call() throws Exception {
      return guarded(spec, () -> {
        DatasetInfo info = DatasetInfo.read(folder);
        PrintWriter out = spec.commandLine().getOut();
        out.println("rows: " + info.rows());
        out.println("features: " + info.features());
        out.println("fingerprint: " + info.fingerprint());
        out.println("size: " + info.sizeInBytes() + " bytes in " + info.files().size() + " Arrow file"
            + (info.files().size() == 1 ? "" : "s"));
        out.flush();
        return 0;
      });
    }
  }

  /** {@code datasets head DIR [-n N] [--json]}. */
  @Command(name = "head", mixinStandardHelpOptions = true,
      description = "Print the first rows of a dataset folder as JSON lines (--json) or tab-separated text.")
  static final class Head implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "DIR")
    Path folder;

    @Option(names = "-n", defaultValue = "5", description = "rows to print (default 5)")
    long rows;

    @Option(names = "--json", description = "one JSON object per row")
    boolean json;

    @Override
    public Integer call() throws Exception {
      return guarded(spec, () -> {
        if (rows < 0) {
          throw new CommandLine.ParameterException(spec.commandLine(), "-n must be 0 or more, got " + rows);
        }
        PrintWriter out = spec.commandLine().getOut();
        try (Dataset d = Dataset.loadFromDisk(folder)) {
          if (json) {
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            DatasetWriters.writeJsonLines(d, buf, rows);
            out.print(buf.toString(StandardCharsets.UTF_8));
          } else {
            out.println(String.join("\t", d.columnNames()));
            for (long i = 0; i < Math.min(rows, d.numRows()); i++) {
              List<String> cells = new java.util.ArrayList<>();
              d.row(i).values().forEach(v -> cells.add(show(v)));
              out.println(String.join("\t", cells));
            }
          }
        }
        out.flush();
        return 0;
      });
    }

    private static String show(Object v) {
      if (v == null) {
        return "null";
      }
      if (v.getClass().isArray()) {
        int n = java.lang.reflect.Array.getLength(v);
        StringBuilder s = new StringBuilder("[");
        for (int i = 0; i < n; i++) {
          s.append(i > 0 ? ", " : "").append(java.lang.reflect.Array.get(v, i));
        }
        return s.append(']').toString();
      }
      return String.valueOf(v);
    }
  }
}
