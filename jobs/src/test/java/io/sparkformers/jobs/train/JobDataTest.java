package io.sparkformers.jobs.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.sparkformers.datasets.AutoTokenizer;
import io.sparkformers.datasets.Tokenizer;
import io.sparkformers.datasets.TokenizerTrainer;
import io.sparkformers.training.models.AutoConfig;
import io.sparkformers.training.models.ModelConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The driver's data preparation without Spark: loaders, splits, labels, tokenization, group_texts, errors. */
class JobDataTest {
  @TempDir Path tmp;

  private JobConfig job(String yaml, String... overrides) {
    List<String> all = new ArrayList<>(List.of(overrides));
    all.add("data.cache_dir=" + tmp.resolve("cache"));
    all.add("data.use_spark=false");
    return JobConfig.parse(yaml, "job.yaml", all);
  }

  private static ModelConfig config(String json) {
    return AutoConfig.fromJson(json, "test");
  }

  private String prepareError(JobConfig job, ModelConfig model) {
    JobConfig.Task task = job.task() != null ? job.task() : JobConfig.taskOf(model.modelType());
    return assertThrows(IllegalArgumentException.class, () -> JobData.prepare(job, task, model, null))
        .getMessage();
  }

  static final String MLP = "{\"model_type\": \"mlp\", \"input_size\": 2, \"hidden_sizes\": [4], \"num_labels\": 3}";
  static final String TABULAR = String.join("\n",
      "model:",
      "  config: " + MLP,
      "data:",
      "  train_file: TRAIN",
      "  label_column: species",
      "training_args: {output_dir: out}",
      "");

  @Test
  void digitsAreReadFromTheJarAndSplitAsDatasetsDoes() {
    JobConfig job = job(TABULAR.replace("  label_column: species", "  header: false\n  label_column: column_64"
        + "\n  feature_scale: 0.0625").replace("TRAIN", "classpath:/io/sparkformers/jobs/data/digits/digits.csv.gz")
        .replace("\"input_size\": 2", "\"input_size\": 64").replace("\"num_labels\": 3", "\"num_labels\": 10"));
    JobData.Prepared p = JobData.prepare(job, JobConfig.Task.TABULAR_CLASSIFICATION,
        config(MLP.replace("\"input_size\": 2", "\"input_size\": 64").replace("\"num_labels\": 3", "\"num_labels\": 10")),
        null);
    // 1,797 rows: ceil(0.2 * 1797) = 360 held out, as datasets' train_test_split.
    assertEquals(1437, p.train().rows());
    assertEquals(360, p.eval().rows());
    assertEquals(64, p.train().widths().get("features"));
    assertEquals(null, p.labelNames());
  }

  @Test
  void stringLabelsAreSortedAndNumberedAndFeaturesScaled() throws IOException {
    Path train = tmp.resolve("train.csv");
    Files.writeString(train, "a,b,note,species\n1,2,x,virginica\n3,4.5,y,setosa\n5,6,z,versicolor\n");
    Path eval = tmp.resolve("eval.csv");
    Files.writeString(eval, "a,b,note,species\n7,8,w,setosa\n");
    JobConfig job = job(TABULAR.replace("TRAIN", train.toString()), "data.eval_file=" + eval,
        "data.feature_scale=0.5");
    JobData.Prepared p = JobData.prepare(job, JobConfig.Task.TABULAR_CLASSIFICATION, config(MLP), null);
    assertEquals(List.of("setosa", "versicolor", "virginica"), p.labelNames());
    // The string column 'note' is not a feature: every numeric column but the label is.
    assertArrayEquals(new float[] {0.5f, 1f, 1.5f, 2.25f, 2.5f, 3f}, p.train().floatColumn("features"));
    assertArrayEquals(new long[] {2, 0, 1}, p.train().longColumn("labels"));
    assertArrayEquals(new float[] {3.5f, 4f}, p.eval().floatColumn("features"));
    assertArrayEquals(new long[] {0}, p.eval().longColumn("labels"));
  }

  @Test
  void arrowFilesByGlobAndSeveralJsonlFilesAreOneDataset() throws IOException {
    Path folder = tmp.resolve("arrow-data");
    try (io.sparkformers.datasets.Dataset d = io.sparkformers.datasets.Dataset.fromColumns(
        java.util.Map.of("a", List.of(1.0, 2.0, 3.0), "b", List.of(4L, 5L, 6L), "species", List.of(0, 1, 2)),
        tmp.resolve("cache"))) {
      d.saveToDisk(folder);
    }
    JobData.Prepared p = JobData.prepare(job(TABULAR.replace("TRAIN", folder + "/*.arrow"), "data.format=arrow",
        "data.eval_file=" + folder + "/*.arrow", "data.feature_columns=[a, b]"),
        JobConfig.Task.TABULAR_CLASSIFICATION, config(MLP), null);
    assertArrayEquals(new float[] {1, 4, 2, 5, 3, 6}, p.train().floatColumn("features"));
    assertArrayEquals(new long[] {0, 1, 2}, p.eval().longColumn("labels"));

    Path one = tmp.resolve("one.jsonl");
    Path two = tmp.resolve("two.jsonl");
    Files.writeString(one, "{\"a\": 1, \"b\": 2, \"species\": \"x\"}\n");
    Files.writeString(two, "{\"a\": 3, \"b\": 4, \"species\": \"y\"}\n{\"a\": 5, \"b\": 6, \"species\": \"z\"}\n");
    p = JobData.prepare(job(TABULAR.replace("TRAIN", "[" + one + ", " + two + "]"), "data.eval_file=" + two),
        JobConfig.Task.TABULAR_CLASSIFICATION, config(MLP), null);
    assertEquals(List.of("x", "y", "z"), p.labelNames());
    assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, p.train().floatColumn("features"));
    assertArrayEquals(new long[] {1, 2}, p.eval().longColumn("labels"));
  }

  @Test
  void tabularErrorsNameTheFileTheColumnsAndTheRow() throws IOException {
    Path train = tmp.resolve("train.csv");
    Files.writeString(train, "a,b,kind\n1,2,0\n3,4,1\n");
    assertEquals(train + ": no column 'species' (data.label_column) for tabular_classification; the columns are"
        + " [a (int64), b (int64), kind (int64)]", prepareError(job(TABULAR.replace("TRAIN", train.toString())),
        config(MLP)));
    assertEquals(train + ": no column 'c' (data.feature_columns) for tabular_classification; the columns are"
        + " [a (int64), b (int64), kind (int64)]", prepareError(job(TABULAR.replace("TRAIN", train.toString()),
        "data.label_column=kind", "data.feature_columns=[a, c]"), config(MLP)));
    assertEquals(train + ": 1 feature columns [a], but the mlp's input_size is 2; the columns are [a (int64),"
        + " b (int64), kind (int64)]", prepareError(job(TABULAR.replace("TRAIN", train.toString()),
        "data.label_column=kind", "data.feature_columns=[a]"), config(MLP)));
    Files.writeString(train, "a,b,kind\n1,2,0\n3,4,7\n");
    assertEquals(train + " row 1: label 7 in column 'kind' is not a class id of the model (0..2, num_labels 3)",
        prepareError(job(TABULAR.replace("TRAIN", train.toString()), "data.label_column=kind"), config(MLP)));
    Files.writeString(train, "a,b,kind\n1,2,0.5\n3,4,1\n");
    assertEquals(train + ": label column 'kind' holds float64 values; expected class ids (integers from 0) or"
        + " class names (strings)", prepareError(job(TABULAR.replace("TRAIN", train.toString()),
        "data.label_column=kind"), config(MLP)));
    Files.writeString(train, "a,b,kind\n1,x,0\n3,4,1\n");
    assertEquals(train + ": feature column 'b' holds string values; expected numbers (the columns are [a (int64),"
        + " b (string), kind (int64)])", prepareError(job(TABULAR.replace("TRAIN", train.toString()),
        "data.label_column=kind", "data.feature_columns=[a, b]", "data.eval_file=" + train), config(MLP)));
  }

  @Test
  void aMissingFileIsNamedWithItsKey() {
    Path missing = tmp.resolve("missing.csv");
    assertEquals("data.train_file " + missing + ": No file found at " + missing,
        prepareError(job(TABULAR.replace("TRAIN", missing.toString())), config(MLP)));
    assertEquals("data.train_file classpath:/no/such.csv: no such resource in the jar",
        prepareError(job(TABULAR.replace("TRAIN", "classpath:/no/such.csv")), config(MLP)));
  }

  // ------------------------------------------------------------------ text tasks

  static final List<String> LINES = List.of("the film was good and the cast was great",
      "a bad plot and a dull cast", "good fun, great music", "dull, slow and bad", "the music was great fun",
      "slow, bad and dull music", "a good film", "a bad film", "great cast", "dull plot");

  private Path wordPiece() {
    Path folder = tmp.resolve("bert-tok");
    TokenizerTrainer.wordPiece().vocabSize(120).minFrequency(1).build().train(LINES, folder);
    return folder;
  }

  private Path byteLevelBpe() {
    Path folder = tmp.resolve("gpt-tok");
    TokenizerTrainer.byteLevelBpe().vocabSize(300).minFrequency(1).build().train(LINES, folder);
    return folder;
  }

  static String bert(int vocab) {
    return "{\"model_type\": \"bert\", \"vocab_size\": " + vocab + ", \"hidden_size\": 8, \"num_hidden_layers\": 1,"
        + " \"num_attention_heads\": 2, \"intermediate_size\": 16, \"max_position_embeddings\": 32,"
        + " \"num_labels\": 2}";
  }

  static String gpt2(int vocab) {
    return "{\"model_type\": \"gpt2\", \"vocab_size\": " + vocab + ", \"n_positions\": 32, \"n_embd\": 8,"
        + " \"n_layer\": 1, \"n_head\": 2}";
  }

  static final String TEXT_JOB = String.join("\n",
      "model:",
      "  config: MODEL",
      "data:",
      "  train_file: TRAIN",
      "training_args: {output_dir: out}",
      "");

  private Path jsonl(String name, List<String> texts) throws IOException {
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < texts.size(); i++) {
      String label = texts.get(i).contains("good") || texts.get(i).contains("great") ? "pos" : "neg";
      s.append("{\"text\": \"").append(texts.get(i)).append("\", \"label\": \"").append(label)
          .append("\", \"id\": ").append(i).append("}\n");
    }
    Path f = tmp.resolve(name);
    Files.writeString(f, s);
    return f;
  }

  @Test
  void sequenceClassificationTruncatesAndPadsToMaxSeqLength() throws IOException {
    Path tok = wordPiece();
    Path train = jsonl("train.jsonl", LINES);
    try (Tokenizer t = AutoTokenizer.fromPretrained(tok)) {
      String model = bert(t.vocabSize());
      JobConfig job = job(TEXT_JOB.replace("MODEL", model).replace("TRAIN", train.toString()),
          "data.tokenizer=" + tok, "data.eval_file=" + train, "data.max_seq_length=6");
      JobData.Prepared p = JobData.prepare(job, JobConfig.Task.SEQUENCE_CLASSIFICATION, config(model), null);
      assertEquals(List.of("neg", "pos"), p.labelNames());
      assertEquals(10, p.train().rows());
      assertEquals(6, p.train().widths().get("input_ids"));
      assertArrayEquals(new long[] {1, 0, 1, 0, 1, 0, 1, 0, 1, 0}, p.train().longColumn("labels"));
      int pad = t.padTokenId();
      for (int row : new int[] {0, 6}) {
        int[] ids = t.encode(LINES.get(row), 6, true).inputIds();
        long[] expected = new long[6];
        long[] mask = new long[6];
        java.util.Arrays.fill(expected, pad);
        for (int i = 0; i < ids.length; i++) {
          expected[i] = ids[i];
          mask[i] = 1;
        }
        assertArrayEquals(expected, java.util.Arrays.copyOfRange(p.train().longColumn("input_ids"), row * 6,
            row * 6 + 6), "row " + row);
        assertArrayEquals(mask, java.util.Arrays.copyOfRange(p.train().longColumn("attention_mask"), row * 6,
            row * 6 + 6), "row " + row);
      }
      // "the film was good and the cast was great" is cut to 6 tokens ([CLS] 4 words [SEP]); "a good film" padded.
      assertEquals((long) t.specialTokenId("cls_token"), p.train().longColumn("input_ids")[0]);
      assertEquals((long) t.specialTokenId("sep_token"), p.train().longColumn("input_ids")[5]);
    }
  }

  @Test
  void causalLmTokenizesAndGroupsTextsIntoBlocks() throws IOException {
    Path tok = byteLevelBpe();
    Path train = tmp.resolve("train.txt");
    Files.writeString(train, String.join("\n", LINES) + "\n");
    try (Tokenizer t = AutoTokenizer.fromPretrained(tok)) {
      String model = gpt2(t.vocabSize());
      JobConfig job = job(TEXT_JOB.replace("MODEL", model).replace("TRAIN", train.toString()),
          "data.tokenizer=" + tok, "data.eval_file=" + train, "data.block_size=8");
      JobData.Prepared p = JobData.prepare(job, JobConfig.Task.CAUSAL_LM, config(model), null);
      List<Integer> all = new ArrayList<>();
      for (String line : LINES) {
        for (int id : t.encode(line).inputIds()) {
          all.add(id);
        }
      }
      int blocks = all.size() / 8;
      assertEquals(blocks, p.train().rows());
      assertEquals(8, p.blockSize());
      long[] ids = p.train().longColumn("input_ids");
      for (int i = 0; i < blocks * 8; i++) {
        assertEquals((long) all.get(i), ids[i], "token " + i);
      }
      assertArrayEquals(ids, p.train().longColumn("labels"));
      long[] ones = new long[blocks * 8];
      java.util.Arrays.fill(ones, 1);
      assertArrayEquals(ones, p.train().longColumn("attention_mask"));
    }
  }

  @Test
  void runClmsBlockSizeDefaultsToTheTokenizersLengthCappedBy1024() throws IOException {
    Path tok = byteLevelBpe(); // model_max_length 1024
    try (Tokenizer t = AutoTokenizer.fromPretrained(tok)) {
      String base = TEXT_JOB.replace("TRAIN", "x.txt").replace("MODEL", gpt2(t.vocabSize()));
      {
        var small = (io.sparkformers.training.models.gpt2.Gpt2Config) config(gpt2(t.vocabSize()));
        // model_max_length 1024 > n_positions 32: min(1024, n_positions)
        assertEquals(32, JobData.blockSize(job(base), t.modelMaxLength(), small));
        assertEquals(16, JobData.blockSize(job(base, "data.block_size=16"), t.modelMaxLength(), small));
        assertEquals("job.yaml: key 'data.block_size': 64 tokens do not fit the model's n_positions 32",
            assertThrows(IllegalArgumentException.class,
                () -> JobData.blockSize(job(base, "data.block_size=64"), t.modelMaxLength(), small)).getMessage());
        var large = (io.sparkformers.training.models.gpt2.Gpt2Config) config(gpt2(t.vocabSize())
            .replace("\"n_positions\": 32", "\"n_positions\": 2048"));
        assertEquals(1024, JobData.blockSize(job(base), t.modelMaxLength(), large));
        assertEquals(1024, JobData.blockSize(job(base, "data.block_size=2000"), t.modelMaxLength(), large));
      }
    }
  }

  @Test
  void textErrorsNameTheFileColumnsAndTokenizer() throws IOException {
    Path tok = wordPiece();
    Path train = jsonl("train.jsonl", LINES);
    int vocab;
    try (Tokenizer t = AutoTokenizer.fromPretrained(tok)) {
      vocab = t.vocabSize();
    }
    String yaml = TEXT_JOB.replace("MODEL", bert(vocab)).replace("TRAIN", train.toString());
    assertEquals(train + ": no column 'sentence' (data.text_column) for sequence_classification; the columns"
        + " are [text (string), label (string), id (int64)]",
        prepareError(job(yaml, "data.tokenizer=" + tok, "data.text_column=sentence"), config(bert(vocab))));
    assertEquals(train + ": no column 'stars' (data.label_column), 'review' (data.text_column) for"
        + " sequence_classification; the columns are [text (string), label (string), id (int64)]",
        prepareError(job(yaml, "data.tokenizer=" + tok, "data.text_column=review", "data.label_column=stars"),
            config(bert(vocab))));
    assertEquals(train + ": text column 'id' holds int64 values; expected strings",
        prepareError(job(yaml, "data.tokenizer=" + tok, "data.text_column=id"), config(bert(vocab))));
    assertEquals("job.yaml: key 'data.tokenizer' is needed: a text model built from model.config has no folder"
        + " to take tokenizer.json from", prepareError(job(yaml), config(bert(vocab))));
    assertEquals("job.yaml: key 'data.tokenizer': " + tmp + " has no tokenizer.json",
        prepareError(job(yaml, "data.tokenizer=" + tmp), config(bert(vocab))));
    assertEquals(tok + "/tokenizer.json has a vocabulary of " + vocab + " tokens, more than the model's vocab_size"
        + " 10", prepareError(job(yaml, "data.tokenizer=" + tok), config(bert(10))));
    assertEquals(train + ": label column 'label' holds 2 classes [neg, pos], but the model's num_labels is 3",
        prepareError(job(yaml, "data.tokenizer=" + tok), config(bert(vocab).replace("\"num_labels\": 2",
            "\"num_labels\": 3"))));
    assertEquals("job.yaml: key 'data.max_seq_length': 64 tokens do not fit the model's max_position_embeddings 32",
        prepareError(job(yaml, "data.tokenizer=" + tok, "data.max_seq_length=64"), config(bert(vocab))));
    Path text = tmp.resolve("short.txt");
    Files.writeString(text, "good fun\n");
    Path bpe = byteLevelBpe();
    int bpeVocab;
    try (Tokenizer t = AutoTokenizer.fromPretrained(bpe)) {
      bpeVocab = t.vocabSize();
    }
    assertEquals(text + ": fewer than block_size = 16 tokens in a group of 1000 rows, so group_texts leaves no"
        + " block; give more text or a smaller data.block_size",
        prepareError(job(TEXT_JOB.replace("MODEL", gpt2(bpeVocab)).replace("TRAIN", text.toString()),
            "data.tokenizer=" + bpe, "data.block_size=16", "data.eval_file=" + text), config(gpt2(bpeVocab))));
  }

  @Test
  void causalLmHoldsOutTheFirstPercentAsRunClmWithDatasetsRounding() {
    String yaml = TEXT_JOB.replace("MODEL", gpt2(100)).replace("TRAIN", "x.txt");
    // datasets: boundary = round(pct * n / 100), Python's round (halves to even): 1.5 -> 2, 2.5 -> 2, 3.5 -> 4.
    for (int[] c : new int[][] {{30, 2}, {50, 2}, {70, 4}, {19, 1}}) {
      List<String> texts = new ArrayList<>();
      for (int i = 0; i < c[0]; i++) {
        texts.add("line " + i);
      }
      try (io.sparkformers.datasets.Dataset all = io.sparkformers.datasets.Dataset.fromColumns(
              java.util.Map.of("text", texts), tmp.resolve("cache"));
          io.sparkformers.datasets.DatasetDict split = JobData.split(all, JobConfig.Task.CAUSAL_LM, job(yaml))) {
        assertEquals(c[1], split.get("test").numRows(), c[0] + " rows");
        assertEquals("line 0", split.get("test").get(0, "text"));
        assertEquals("line " + c[1], split.get("train").get(0, "text"));
        assertEquals(c[0] - c[1], split.get("train").numRows());
      }
    }
    assertEquals("job.yaml: key 'data.test_size' is for classification; causal_lm holds out"
        + " data.validation_split_percentage of the rows, as run_clm", assertThrows(IllegalArgumentException.class,
            () -> job(yaml, "data.test_size=0.1")).getMessage());
    assertEquals("job.yaml: key 'data.validation_split_percentage': expected an integer percent from 1 to 99, got"
        + " '0'", assertThrows(IllegalArgumentException.class,
            () -> job(yaml, "data.validation_split_percentage=0")).getMessage());
    assertEquals("job.yaml: key 'data.validation_split_percentage' is for causal_lm; tabular_classification holds"
        + " out data.test_size of the rows", assertThrows(IllegalArgumentException.class,
            () -> job(TABULAR.replace("TRAIN", "x.csv"), "data.validation_split_percentage=10")).getMessage());
  }

  @Test
  void metricsAreCheckedAgainstTheTaskTheModelFolderGives() {
    JobConfig folderJob = JobConfig.parse(String.join("\n", "model: {path: some/folder}", "data: {train_file: t.txt}",
        "metrics: [accuracy]", "training_args: {output_dir: out}", ""), "job.yaml", List.of());
    assertEquals("job.yaml: unknown metric 'accuracy' for causal_lm (valid: [perplexity])",
        assertThrows(IllegalArgumentException.class, () -> folderJob.checkMetrics(JobConfig.Task.CAUSAL_LM))
            .getMessage());
  }

  @Test
  void aModelFolderWithoutConfigJsonIsNamedWithItsKey() {
    JobConfig folderJob = JobConfig.parse(String.join("\n", "model: {path: " + tmp + "}",
        "data: {train_file: t.txt}", "training_args: {output_dir: out}", ""), "job.yaml", List.of());
    assertEquals("job.yaml: key 'model.path': " + tmp + " has no config.json (a Hugging Face model folder holds"
        + " config.json and model.safetensors)", assertThrows(IllegalArgumentException.class,
            () -> TrainJob.modelConfig(folderJob)).getMessage());
    assertEquals("job.yaml: key 'model.config.model_type': no task for model_type 't5': expected mlp, bert or a"
        + " causal language model (gpt2, llama, mistral, qwen2)", assertThrows(IllegalArgumentException.class, () -> JobConfig.parse(String.join("\n",
            "model: {config: {model_type: t5}}", "data: {train_file: t.txt}", "training_args: {output_dir: out}",
            ""), "job.yaml", List.of())).getMessage());
    JobConfig noType = JobConfig.parse(String.join("\n", "model: {config: {n_layer: 2}}",
        "data: {train_file: t.txt}", "training_args: {output_dir: out}", ""), "job.yaml", List.of());
    assertEquals("job.yaml: model.config: missing required key 'model_type', expected one of [bert, gpt2, llama, mistral, mlp, qwen2]",
        assertThrows(IllegalArgumentException.class, () -> TrainJob.modelConfig(noType)).getMessage());
  }

  @Test
  void theTaskNeedsItsModelType() {
    assertEquals("job.yaml: task causal_lm needs a causal LM (gpt2, llama, qwen2, mistral) model, the model is mlp", assertThrows(
        IllegalArgumentException.class, () -> JobData.checkModel(JobConfig.Task.CAUSAL_LM, config(MLP), "job.yaml"))
        .getMessage());
  }
}
