package io.sparkformers.jobs.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkformers.datasets.DataFormat;
import io.sparkformers.training.KeyNames;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JobConfigTest {
  static final String YAML = String.join("\n",
      "world_size: 2",
      "model:",
      "  config: {model_type: mlp, input_size: 2, num_labels: 2}",
      "data:",
      "  train_file: train.csv",
      "  label_column: y",
      "training_args:",
      "  output_dir: out",
      "  learning_rate: 0.01",
      "");

  @TempDir Path tmp;

  static String error(String yaml, String... overrides) {
    return assertThrows(IllegalArgumentException.class, () -> JobConfig.parse(yaml, "job.yaml", List.of(overrides)))
        .getMessage();
  }

  @Test
  void readsSectionsAndAppliesOverrides() {
    JobConfig c = JobConfig.parse(YAML, "job.yaml", List.of("num_train_epochs=2", "training_args.seed=7",
        "data.test_size=0.25"));
    assertEquals(2, c.worldSize());
    assertEquals(0.01, c.trainingArguments().learningRate());
    assertEquals(2.0, c.trainingArguments().numTrainEpochs());
    assertEquals(7, c.trainingArguments().seed());
    assertEquals(0.25, c.testSize());
    assertEquals("mlp", c.modelConfig().get("model_type"));
  }

  @Test
  void unknownKeysNameTheNearestValidOne() {
    assertTrue(error(YAML + "wrld_size: 3\n").contains("unknown key 'wrld_size' — did you mean 'world_size'?"));
    assertTrue(error(YAML.replace("label_column", "lable_column"))
        .contains("unknown key 'data.lable_column' — did you mean 'data.label_column'?"));
    String e = error(YAML, "training_args.learning_rat=0.1");
    assertTrue(e.contains("job.yaml: training_args: unknown key 'learning_rat' — did you mean 'learning_rate'?"), e);
    assertEquals("job.yaml: unknown metric 'acuracy' for tabular_classification — did you mean 'accuracy'? (valid:"
        + " [accuracy, f1_macro, f1_weighted, precision_macro, recall_macro])", error(YAML + "metrics: [acuracy]\n"));
  }

  @Test
  void aMisspeltBareOverrideNamesTheNearestTrainingArgument() {
    String e = error(YAML, "num_train_epoch=1");
    assertTrue(e.contains("unknown key 'num_train_epoch' — did you mean 'num_train_epochs'?"), e);
  }

  @Test
  void anUnquotedNoStrategyMeansNo() {
    // YAML 1.1 reads an unquoted `no` as false; transformers users write it unquoted.
    JobConfig c = JobConfig.parse(YAML + "  save_strategy: no\n  eval_strategy: no\n", "job.yaml",
        List.of("logging_strategy=no"));
    assertEquals("no", c.trainingArguments().saveStrategy().value());
    assertEquals("no", c.trainingArguments().evalStrategy().value());
    assertEquals("no", c.trainingArguments().loggingStrategy().value());
  }

  @Test
  void modelNeedsAPathOrAConfig() {
    assertTrue(error(YAML.replace("  config: {model_type: mlp, input_size: 2, num_labels: 2}", "  path: null"))
        .contains("model needs exactly one of 'path'"));
  }

  @Test
  void dataKeysAreCheckedAndNamed() {
    assertEquals("job.yaml: key 'data.max_seq_length': expected a positive integer, got '0'",
        error(YAML, "data.max_seq_length=0"));
    assertEquals("job.yaml: key 'data.block_size': expected a positive integer, got 'big'",
        error(YAML, "data.block_size=big"));
    assertEquals("job.yaml: key 'data.header': expected true or false, got 'maybe'", error(YAML, "data.header=maybe"));
    assertEquals("job.yaml: key 'data.test_size': expected a fraction in (0, 1), got '1.5'",
        error(YAML, "data.test_size=1.5"));
    assertEquals("job.yaml: key 'data.split_seed': expected an integer, got 'x'", error(YAML, "data.split_seed=x"));
    assertEquals("job.yaml: key 'data.feature_scale': expected a finite number, got 'x'",
        error(YAML, "data.feature_scale=x"));
    assertEquals("job.yaml: key 'data.hadoop': expected a mapping of Hadoop settings, got 'x'",
        error(YAML, "data.hadoop=x"));
    assertEquals("job.yaml: key 'data.train_file': expected a path or a list of paths, got '[]'",
        error(YAML, "data.train_file=[]"));
    assertEquals("job.yaml: key 'data.format': Unknown format 'xml': expected csv, json, jsonl, parquet, arrow or"
        + " text", error(YAML, "data.format=xml"));
    assertEquals("job.yaml: key 'data.format' (from the train_file's extension): Unknown format 'xml': expected"
        + " csv, json, jsonl, parquet, arrow or text", error(YAML, "data.train_file=rows.xml"));
    assertEquals("job.yaml: key 'data.format' is needed: 'data/rows' has no extension to tell the format (csv,"
        + " json, jsonl, parquet, arrow or text)", error(YAML, "data.train_file=data/rows"));
    assertEquals("job.yaml: key 'task': expected one of [tabular_classification, sequence_classification,"
        + " causal_lm, sft], got 'causal' — did you mean 'causal_lm'?", error(YAML, "task=causal"));
  }

  @Test
  void theFormatComesFromTheExtensionAndFilesMayBeAList() {
    JobConfig c = JobConfig.parse(YAML, "job.yaml", List.of("data.train_file=[a.jsonl, 'b/*.jsonl']",
        "data.eval_file=s3a://bucket/eval.parquet"));
    assertEquals(List.of("a.jsonl", "b/*.jsonl"), c.trainFiles());
    assertEquals(List.of("s3a://bucket/eval.parquet"), c.evalFiles());
    assertEquals(DataFormat.JSON, c.format());
    assertEquals(DataFormat.TEXT, JobConfig.parse(YAML, "job.yaml", List.of("data.train_file=corpus.txt")).format());
    assertEquals(DataFormat.CSV, JobConfig.parse(YAML, "job.yaml", List.of("data.train_file=d.csv.gz")).format());
  }

  @Test
  void theTaskFollowsTheModelTypeAndChoosesTheMetrics() {
    assertEquals(JobConfig.Task.TABULAR_CLASSIFICATION, JobConfig.parse(YAML, "job.yaml", List.of()).task());
    String gpt = YAML.replace("{model_type: mlp, input_size: 2, num_labels: 2}", "{model_type: gpt2}");
    assertEquals(JobConfig.Task.CAUSAL_LM, JobConfig.parse(gpt, "job.yaml", List.of()).task());
    assertEquals("job.yaml: unknown metric 'accuracy' for causal_lm (valid: [perplexity])",
        error(gpt + "metrics: [accuracy]\n"));
    assertEquals("job.yaml: unknown metric 'perplexity' for tabular_classification (valid: [accuracy, f1_macro,"
        + " f1_weighted, precision_macro, recall_macro])", error(YAML + "metrics: [perplexity]\n"));
  }

  @Test
  void everyExampleConfigInConfParses() throws IOException {
    Path conf = Path.of("..", "conf");
    List<Path> files;
    try (var s = Files.list(conf)) {
      files = s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
    }
    assertEquals(List.of("causal-lm.yaml", "quickstart.yaml", "sequence-classification.yaml",
        "sft-lora.yaml", "sft.yaml", "tabular-classification.yaml"),
        files.stream().map(p -> p.getFileName().toString()).toList());
    for (Path f : files) {
      JobConfig c = JobConfig.load(f, List.of());
      assertEquals(2, c.worldSize(), f.toString());
    }
  }

  @Test
  void aMissingConfigFileIsNamed() {
    Path missing = tmp.resolve("nope.yaml");
    assertEquals(missing + ": no such config file", assertThrows(IllegalArgumentException.class,
        () -> JobConfig.load(missing, List.of())).getMessage());
  }

  @Test
  void keyNamesSuggestTheNearest() {
    assertEquals(" — did you mean 'block_size'?", KeyNames.didYouMean("blok_size", JobConfig.DATA));
    assertEquals("", KeyNames.didYouMean("completely_different", JobConfig.DATA));
    assertEquals(3, KeyNames.distance("kitten", "sitting"));
  }
}
