package io.sparkformers.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import io.sparkformers.datasets.ColumnType;
import io.sparkformers.datasets.Dataset;
import io.sparkformers.datasets.Features;
import io.sparkformers.training.models.PreTrainedModel;
import io.sparkformers.training.models.SafeTensorsFile;
import io.sparkformers.training.models.internal.Ops;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Trainer's overridable steps, frozen parameters, datasets as input, and the log file. */
class TrainerStepsTest {
  @TempDir Path tmp;

  private TrainingArguments.Builder sgd(String dir, double lr) {
    return TrainingArguments.builder(tmp.resolve(dir).toString()).optim("sgd").learningRate(lr).maxGradNorm(0)
        .perDeviceTrainBatchSize(16).numTrainEpochs(1).saveStrategy("no").disableTqdm(true);
  }

  /** A custom loss through a subclass: twice the model's loss at half the rate moves the weights the same. */
  static final class DoubledLossTrainer extends Trainer {
    DoubledLossTrainer(Builder b) {
      super(b);
    }

    @Override
    protected NDArray computeLoss(PreTrainedModel model, Map<String, NDArray> inputs) {
      return Ops.mul(super.computeLoss(model, inputs), 2);
    }
  }

  @Test
  void computeLossCanBeOverriddenWithoutTouchingTheLoop() {
    String plain;
    String doubled;
    try (PreTrainedModel model = TrainerBehaviourTest.mlp()) {
      Trainer t = Trainer.builder(model, sgd("a", 0.2).build()).trainData(TrainerBehaviourTest.data(1, false))
          .shuffle(false).build();
      t.train();
      plain = t.parameterChecksum();
    }
    try (PreTrainedModel model = TrainerBehaviourTest.mlp()) {
      Trainer t = new DoubledLossTrainer(Trainer.builder(model, sgd("b", 0.1).build())
          .trainData(TrainerBehaviourTest.data(1, false)).shuffle(false));
      Map<String, Double> result = t.train();
      doubled = t.parameterChecksum();
      assertTrue(result.get("train_loss") > 0);
    }
    assertEquals(plain, doubled);
  }

  @Test
  void frozenParametersAreNotTrainedAndHaveNoOptimizerState() throws Exception {
    try (PreTrainedModel model = TrainerBehaviourTest.mlp()) {
      ((io.sparkformers.training.models.nn.Module) model).declaredParameters().get("0.weight").setTrainable(false);
      float[] frozenBefore = model.namedParameters().get("0.weight").getArray().toFloatArray();
      float[] biasBefore = model.namedParameters().get("0.bias").getArray().toFloatArray();
      TrainingArguments args = TrainingArguments.builder(tmp.resolve("frozen").toString()).learningRate(0.05)
          .perDeviceTrainBatchSize(16).maxSteps(3).saveSteps(3).disableTqdm(true).build();
      Trainer t = Trainer.builder(model, args).trainData(TrainerBehaviourTest.data(1, false)).build();
      t.train();
      assertArrayEquals(frozenBefore, model.namedParameters().get("0.weight").getArray().toFloatArray());
      assertFalse(java.util.Arrays.equals(biasBefore, model.namedParameters().get("0.bias").getArray().toFloatArray()));
      try (SafeTensorsFile f = SafeTensorsFile.open(tmp.resolve("frozen/checkpoint-3/optimizer.safetensors"))) {
        assertTrue(f.names().stream().noneMatch(n -> n.startsWith("0.weight.")), f.names().toString());
        assertTrue(f.names().contains("0.bias.exp_avg"), f.names().toString());
      }
    }
  }

  @Test
  void aDatasetTrainsExactlyAsTheSameRowsInArrays() {
    ArrayData arrays = TrainerBehaviourTest.data(1, false);
    List<Map<String, Object>> rows = new ArrayList<>();
    float[] x = arrays.floatColumn("features");
    long[] y = arrays.longColumn("labels");
    for (int i = 0; i < y.length; i++) {
      rows.add(Map.of("features", java.util.Arrays.copyOfRange(x, i * 4, i * 4 + 4), "labels", y[i], "id", "r" + i));
    }
    String fromArrays;
    try (PreTrainedModel model = TrainerBehaviourTest.mlp()) {
      Trainer t = Trainer.builder(model, sgd("arrays", 0.1).build()).trainData(arrays).build();
      t.train();
      fromArrays = t.parameterChecksum();
    }
    try (Dataset d = Dataset.fromRows(Features.of("features", ColumnType.FLOAT32_LIST, "labels", ColumnType.INT64,
            "id", ColumnType.STRING), rows, tmp.resolve("cache"));
        PreTrainedModel model = TrainerBehaviourTest.mlp();
        Trainer t = Trainer.builder(model, sgd("dataset", 0.1).build()).trainData(d).build()) {
      t.train();
      assertEquals(fromArrays, t.parameterChecksum());
    }
  }

  @Test
  void theLogFileHoldsEveryLogEntryWithItsStep() throws Exception {
    try (PreTrainedModel model = TrainerBehaviourTest.mlp()) {
      TrainingArguments args = sgd("log", 0.1).loggingSteps(2).build();
      Trainer t = Trainer.builder(model, args).trainData(TrainerBehaviourTest.data(1, false)).build();
      t.train();
      List<String> lines = Files.readAllLines(tmp.resolve("log/log_history.jsonl"));
      assertEquals(t.state().logHistory().size(), lines.size());
      assertTrue(lines.get(0).contains("\"step\":2"), lines.get(0));
      assertNotEquals(-1, lines.get(lines.size() - 1).indexOf("train_loss"));
    }
  }
}
