package io.sparkformers.jobs.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
    assertTrue(error(YAML + "metrics: [acuracy]\n").contains("unknown metric 'acuracy' — did you mean 'accuracy'?"));
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
    assertEquals("no", c.trainingArguments().saveStrategy());
    assertEquals("no", c.trainingArguments().evalStrategy());
    assertEquals("no", c.trainingArguments().loggingStrategy());
  }

  @Test
  void modelNeedsAPathOrAConfig() {
    assertTrue(error(YAML.replace("  config: {model_type: mlp, input_size: 2, num_labels: 2}", "  path: null"))
        .contains("model needs exactly one of 'path'"));
  }

  @Test
  void csvErrorsNameFileLineAndColumn() throws IOException {
    Path f = tmp.resolve("t.csv");
    Files.writeString(f, "a,b,y\n1,2,0\n3,x,1\n");
    String e = assertThrows(IllegalArgumentException.class,
        () -> NumericCsv.read(f.toString(), true, "y", List.of(), 1f)).getMessage();
    assertEquals(f + " line 3 column 2: expected a number, found 'x'", e);
    Files.writeString(f, "a,b,y\n1,2,0\n3,4\n");
    assertEquals(f + " line 3: expected 3 columns, found 2", assertThrows(IllegalArgumentException.class,
        () -> NumericCsv.read(f.toString(), true, "y", List.of(), 1f)).getMessage());
    assertEquals(f + ": label_column 'label' is not a column; the columns are [a, b, y]",
        assertThrows(IllegalArgumentException.class,
            () -> NumericCsv.read(f.toString(), true, "label", List.of(), 1f)).getMessage());
    Files.writeString(f, "a,b,y\n1,2,0.5\n");
    assertEquals(f + " line 2 column 3: expected a class id (an integer >= 0), found '0.5'",
        assertThrows(IllegalArgumentException.class,
            () -> NumericCsv.read(f.toString(), true, "y", List.of(), 1f)).getMessage());
  }

  @Test
  void digitsAreReadFromTheJar() throws IOException {
    NumericCsv.Table t = NumericCsv.read("classpath:/io/sparkformers/jobs/data/digits/digits.csv.gz", false, "64",
        List.of(), 0.0625f);
    assertEquals(1797, t.rows());
    assertEquals(64, t.width());
    // The first image of load_digits(): class 0, its first row of pixels 0,0,5,13,9,1,0,0 (scaled by 1/16).
    assertEquals(0, t.labels()[0]);
    float[] firstRow = new float[8];
    System.arraycopy(t.features(), 0, firstRow, 0, 8);
    assertArrayEquals(new float[] {0, 0, 5 / 16f, 13 / 16f, 9 / 16f, 1 / 16f, 0, 0}, firstRow);
  }
}
