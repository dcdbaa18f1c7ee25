package io.sparkformers.jobs.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The driver-side checks: each bad input found from the files alone, in one line, before any Spark starts. */
class PreflightTest {
  @TempDir Path tmp;

  private static final String TABULAR = String.join("\n",
      "world_size: 2",
      "model:",
      "  config: {model_type: mlp, input_size: 2, num_labels: 2}",
      "data:",
      "  train_file: TRAIN",
      "  label_column: y",
      "training_args:",
      "  output_dir: OUT",
      "");

  private JobConfig tabular(Path train, String... overrides) {
    return JobConfig.parse(TABULAR.replace("TRAIN", train.toString()).replace("OUT", tmp.resolve("out").toString()),
        "job.yaml", List.of(overrides));
  }

  private static IllegalArgumentException fails(JobConfig job, String master) {
    return assertThrows(IllegalArgumentException.class, () -> Preflight.check(job, master));
  }

  private Path write(String name, String text) throws IOException {
    Path p = tmp.resolve(name);
    Files.createDirectories(p.getParent());
    Files.writeString(p, text);
    return p;
  }

  // ---------------------------------------------------------------------------------------- world size

  @Test
  void slotsOfEachMasterKind() {
    SparkConf conf = new SparkConf(false);
    assertEquals(1, Preflight.maxSlots("local", conf));
    assertEquals(2, Preflight.maxSlots("local[2]", conf));
    assertEquals(3, Preflight.maxSlots("local[3,4]", conf));
    assertEquals(Runtime.getRuntime().availableProcessors(), Preflight.maxSlots("local[*]", conf));
    assertEquals(4, Preflight.maxSlots("local-cluster[2,2,1024]", conf));
    assertEquals(2, Preflight.maxSlots("local-cluster[2,2,1024]", new SparkConf(false).set("spark.task.cpus", "2")));
    assertEquals(-1, Preflight.maxSlots("spark://host:7077", conf));
    assertEquals(-1, Preflight.maxSlots("yarn", conf));
    assertEquals(6, Preflight.maxSlots("yarn", new SparkConf(false).set("spark.executor.instances", "3")
        .set("spark.executor.cores", "2")));
    assertEquals(-1, Preflight.maxSlots("yarn", new SparkConf(false).set("spark.executor.instances", "3")
        .set("spark.executor.cores", "2").set("spark.dynamicAllocation.enabled", "true")));
  }

  @Test
  void aWorldSizeTheMasterCanNeverGiveIsOneLine() throws IOException {
    Path train = write("t.csv", "a,b,y\n1,2,0\n3,4,1\n");
    String e = fails(tabular(train, "world_size=4"), "local[2]").getMessage();
    assertEquals("job.yaml: key 'world_size': 4 ranks need 4 task slots at once (a barrier stage), but master"
        + " local[2] can never give more than 2; set world_size to at most 2 or spark_master to local[4]", e);
    String cluster = fails(tabular(train, "world_size=3"), "local-cluster[2,1,1024]").getMessage();
    assertTrue(cluster.contains("master local-cluster[2,1,1024] can never give more than 2"), cluster);
    // A real cluster's slots are known only once executors register: no error here.
    Preflight.check(tabular(train, "world_size=64"), "spark://host:7077");
    Preflight.check(tabular(train), "local[2]");
  }

  @Test
  void beforeLaunchTakesTheMasterFromSparkConfOrTheJobFile() throws IOException {
    Path train = write("t.csv", "a,b,y\n1,2,0\n3,4,1\n");
    JobConfig job = tabular(train, "world_size=3", "spark_master=local[2]");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Preflight.beforeLaunch(job, new SparkConf(false)));
    assertTrue(e.getMessage().contains("master local[2] can never give more than 2"), e.getMessage());
    // spark-submit's master wins over the job file's.
    Preflight.beforeLaunch(job, new SparkConf(false).set("spark.master", "local[4]"));
  }

  // ---------------------------------------------------------------------------------------- data files

  @Test
  void aMissingDataFileIsInputMissingNamingKeyAndPath() {
    Path missing = tmp.resolve("nowhere/train.csv");
    IllegalArgumentException e = fails(tabular(missing), "local[2]");
    assertInstanceOf(InputMissingException.class, e);
    assertEquals("job.yaml: key 'data.train_file': No file found at " + missing, e.getMessage());
    IllegalArgumentException glob = fails(tabular(tmp.resolve("nowhere/*.csv")), "local[2]");
    assertInstanceOf(InputMissingException.class, glob);
  }

  @Test
  void anEmptyCsvSaysTheFileIsEmpty() throws IOException {
    Path empty = write("empty.csv", "");
    assertEquals("job.yaml: key 'data.train_file': file:" + empty + " is empty: no columns and no rows",
        fails(tabular(empty), "local[2]").getMessage());
    Path blank = write("blank.csv", "\n\n  \n");
    assertTrue(fails(tabular(blank), "local[2]").getMessage().endsWith(" is empty: no columns and no rows"));
  }

  @Test
  void aHeaderOnlyCsvSaysItHasNoRows() throws IOException {
    Path header = write("header.csv", "a,b,y\n");
    assertEquals("job.yaml: key 'data.train_file': file:" + header + " holds a header row [a, b, y] but no data"
        + " rows", fails(tabular(header), "local[2]").getMessage());
  }

  @Test
  void aGzippedCsvIsReadThroughItsCompression() throws IOException {
    Path gz = tmp.resolve("t.csv.gz");
    try (GZIPOutputStream out = new GZIPOutputStream(Files.newOutputStream(gz))) {
      out.write("a,b,label\n1,2,0\n".getBytes(StandardCharsets.UTF_8));
    }
    String e = fails(tabular(gz, "data.format=csv"), "local[2]").getMessage();
    assertTrue(e.contains("no column 'y' (data.label_column) for tabular_classification; the columns are"
        + " [a, b, label]"), e);
  }

  @Test
  void aMissingColumnIsNamedWithTheColumnsTheHeaderHas() throws IOException {
    Path train = write("t.csv", "a,\"b,c\",label\n1,2,0\n");
    assertEquals("job.yaml: key 'data.train_file': file:" + train + ": no column 'y' (data.label_column),"
        + " 'z' (data.feature_columns) for tabular_classification; the columns are [a, b,c, label]",
        fails(tabular(train, "data.feature_columns=[a, z]"), "local[2]").getMessage());
    // Without a header the columns are column_0, column_1, ...
    Path plain = write("plain.csv", "1,2,0\n");
    String e = fails(tabular(plain, "data.header=false"), "local[2]").getMessage();
    assertTrue(e.endsWith("the columns are [column_0, column_1, column_2]"), e);
    Preflight.check(tabular(plain, "data.header=false", "data.label_column=column_2"), "local[2]");
  }

  @Test
  void anEvalFileIsCheckedLikeTheTrainFile() throws IOException {
    Path train = write("t.csv", "a,b,y\n1,2,0\n");
    Path eval = write("e.csv", "a,b,y\n");
    String e = fails(tabular(train, "data.eval_file=" + eval), "local[2]").getMessage();
    assertTrue(e.startsWith("job.yaml: key 'data.eval_file': file:" + eval + " holds a header row"), e);
  }

  private JobConfig textJob(String task, Path model, Path train, String... overrides) {
    String yaml = String.join("\n",
        "task: " + task,
        "model:",
        "  path: " + model,
        "data:",
        "  train_file: " + train,
        "training_args:",
        "  output_dir: " + tmp.resolve("out"),
        "");
    return JobConfig.parse(yaml, "job.yaml", List.of(overrides));
  }

  @Test
  void jsonLinesColumnsAreTheKeysOfItsRows() throws IOException {
    Path model = gpt2Folder("m", 50, 50);
    Files.writeString(model.resolve("tokenizer.json"), "{}");
    Path rows = write("rows.jsonl", "{\"body\": \"a\"}\n{\"title\": \"b\"}\n");
    assertEquals("job.yaml: key 'data.train_file': file:" + rows + ": no column 'text' (data.text_column) for"
        + " causal_lm; the columns are [body, title]", fails(textJob("causal_lm", model, rows), "local[2]")
        .getMessage());
    Preflight.check(textJob("causal_lm", model, rows, "data.text_column=title"), "local[2]");
    String sft = fails(textJob("sft", model, rows), "local[2]").getMessage();
    assertTrue(sft.contains(": no column for sft: expected 'messages' (data.messages_column)"), sft);
    Path empty = write("empty.jsonl", "");
    assertTrue(fails(textJob("causal_lm", model, empty), "local[2]").getMessage().endsWith(" is empty: no columns"
        + " and no rows"));
  }

  // ---------------------------------------------------------------------------------------- model, tokenizer

  /** A gpt2 folder: config.json with vocab_size and a safetensors file whose embedding has {@code rows}. */
  private Path gpt2Folder(String name, int vocab, int rows) throws IOException {
    Path folder = Files.createDirectories(tmp.resolve(name));
    Files.writeString(folder.resolve("config.json"), "{\"model_type\": \"gpt2\", \"vocab_size\": " + vocab
        + ", \"n_positions\": 32, \"n_embd\": 8, \"n_layer\": 1, \"n_head\": 2}");
    Map<String, long[]> tensors = new LinkedHashMap<>();
    tensors.put("transformer.wte.weight", new long[] {rows, 8});
    tensors.put("transformer.wpe.weight", new long[] {32, 8});
    writeSafetensors(folder.resolve("model.safetensors"), tensors);
    return folder;
  }

  /** A safetensors file of float32 zeros with these tensors. */
  static void writeSafetensors(Path file, Map<String, long[]> tensors) throws IOException {
    StringBuilder header = new StringBuilder("{");
    long offset = 0;
    for (Map.Entry<String, long[]> t : tensors.entrySet()) {
      long n = 4;
      for (long d : t.getValue()) {
        n *= d;
      }
      if (header.length() > 1) {
        header.append(',');
      }
      header.append('"').append(t.getKey()).append("\":{\"dtype\":\"F32\",\"shape\":")
          .append(java.util.Arrays.toString(t.getValue()).replace(" ", "")).append(",\"data_offsets\":[")
          .append(offset).append(',').append(offset + n).append("]}");
      offset += n;
    }
    byte[] h = header.append('}').toString().getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + h.length + (int) offset).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(h.length).put(h);
    Files.write(file, b.array());
  }

  @Test
  void aMissingModelFolderOrConfigIsInputMissing() throws IOException {
    Path train = write("t.jsonl", "{\"text\": \"a\"}\n");
    Path nowhere = tmp.resolve("models/gpt2");
    IllegalArgumentException e = fails(textJob("causal_lm", nowhere, train), "local[2]");
    assertInstanceOf(InputMissingException.class, e);
    assertEquals("job.yaml: key 'model.path': no folder " + nowhere + " (a Hugging Face model folder holding"
        + " config.json and model.safetensors)", e.getMessage());
    Files.createDirectories(nowhere);
    IllegalArgumentException noConfig = fails(textJob("causal_lm", nowhere, train), "local[2]");
    assertInstanceOf(InputMissingException.class, noConfig);
    assertTrue(noConfig.getMessage().contains(nowhere + " has no config.json"), noConfig.getMessage());
  }

  @Test
  void missingOrTruncatedWeightsAreFoundFromTheHeader() throws IOException {
    Path train = write("t.jsonl", "{\"text\": \"a\"}\n");
    Path model = gpt2Folder("m", 50, 50);
    Files.writeString(model.resolve("tokenizer.json"), "{}");
    Preflight.check(textJob("causal_lm", model, train), "local[2]");
    byte[] whole = Files.readAllBytes(model.resolve("model.safetensors"));
    Files.write(model.resolve("model.safetensors"), java.util.Arrays.copyOf(whole, whole.length - 100));
    String truncated = fails(textJob("causal_lm", model, train), "local[2]").getMessage();
    assertTrue(truncated.startsWith("job.yaml: key 'model.path': " + model.resolve("model.safetensors")
        + ": tensor '"), truncated);
    assertTrue(truncated.contains("(truncated file?)"), truncated);
    Files.delete(model.resolve("model.safetensors"));
    IllegalArgumentException none = fails(textJob("causal_lm", model, train), "local[2]");
    assertInstanceOf(InputMissingException.class, none);
    assertTrue(none.getMessage().contains("no model.safetensors or model.safetensors.index.json"), none.getMessage());
  }

  @Test
  void aConfigWhoseVocabularyDiffersFromTheWeightsIsNamed() throws IOException {
    Path train = write("t.jsonl", "{\"text\": \"a\"}\n");
    Path model = gpt2Folder("m", 64, 50);
    Files.writeString(model.resolve("tokenizer.json"), "{}");
    assertEquals("job.yaml: key 'model.path': " + model + "/config.json says vocab_size 64 but "
        + model.resolve("model.safetensors") + " holds 'transformer.wte.weight' of shape [50, 8]: the config and the"
        + " weights are of different models", fails(textJob("causal_lm", model, train), "local[2]").getMessage());
  }

  @Test
  void aConfigWhoseWidthDiffersFromTheWeightsIsNamed() throws IOException {
    Path train = write("t.jsonl", "{\"text\": \"a\"}\n");
    Path model = gpt2Folder("m", 50, 50);
    Files.writeString(model.resolve("tokenizer.json"), "{}");
    Files.writeString(model.resolve("config.json"), "{\"model_type\": \"gpt2\", \"vocab_size\": 50,"
        + " \"n_positions\": 32, \"n_embd\": 16, \"n_layer\": 1, \"n_head\": 2}");
    String e = fails(textJob("causal_lm", model, train), "local[2]").getMessage();
    assertTrue(e.contains("config.json says n_embd 16 but " + model.resolve("model.safetensors")
        + " holds 'transformer.wte.weight' of shape [50, 8]"), e);
  }

  @Test
  void aMissingTokenizerIsInputMissing() throws IOException {
    Path train = write("t.jsonl", "{\"text\": \"a\"}\n");
    Path model = gpt2Folder("m", 50, 50);
    IllegalArgumentException e = fails(textJob("causal_lm", model, train), "local[2]");
    assertInstanceOf(InputMissingException.class, e);
    assertEquals("job.yaml: key 'model.path': " + model + " has no tokenizer.json", e.getMessage());
    Path other = tmp.resolve("tok");
    IllegalArgumentException folder = fails(textJob("causal_lm", model, train, "data.tokenizer=" + other),
        "local[2]");
    assertEquals("job.yaml: key 'data.tokenizer': no folder " + other + " (a folder holding tokenizer.json)",
        folder.getMessage());
  }

  @Test
  void theQuickstartsDataInTheJarPasses() {
    JobConfig quickstart = JobConfig.parse(String.join("\n",
        "world_size: 2",
        "model:",
        "  config: {model_type: mlp, input_size: 64, num_labels: 10}",
        "data:",
        "  train_file: classpath:/io/sparkformers/jobs/data/digits/digits.csv.gz",
        "  format: csv",
        "  header: false",
        "  label_column: column_64",
        ""), "job.yaml", List.of());
    Preflight.check(quickstart, "local[2]");
    JobConfig missing = JobConfig.parse(String.join("\n",
        "model:",
        "  config: {model_type: mlp, input_size: 64, num_labels: 10}",
        "data:",
        "  train_file: classpath:/nowhere.csv",
        ""), "job.yaml", List.of());
    assertInstanceOf(InputMissingException.class, fails(missing, "local[2]"));
  }
}
