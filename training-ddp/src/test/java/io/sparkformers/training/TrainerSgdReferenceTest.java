package io.sparkformers.training;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import io.sparkformers.training.models.AutoModel;
import io.sparkformers.training.models.PreTrainedModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Trainer on one rank reproduces PyTorch's SGD steps of the reference MLP (torch-sgd-mlp). */
class TrainerSgdReferenceTest {

  @TempDir Path tmp;

  @Test
  void oneRankMatchesPyTorchLossesAndWeights() throws Exception {
    JsonNode ref = MlpReference.expected().get("single_fp32");
    List<Double> losses = new ArrayList<>();
    try (PreTrainedModel model = AutoModel.fromPretrained(MlpReference.modelFolder(tmp.resolve("init")))) {
      Trainer trainer = Trainer.builder(model, MlpReference.sgdArgs(tmp.resolve("out"), 128, 5))
          .trainData(MlpReference.data()).shuffle(false)
          .callback(new TrainerCallback() {
            @Override
            public void onLog(TrainingArguments a, TrainerState s, TrainerControl c, Map<String, Object> logs) {
              if (logs.containsKey("loss")) {
                losses.add(s.lastStepLoss());
              }
            }
          })
          .build();
      Map<String, Double> result = trainer.train();
      assertEquals(5.0, result.get("global_step"));
      for (int s = 0; s < 5; s++) {
        assertEquals(ref.get("loss").get(s).asDouble(), losses.get(s), 1e-5, "loss of step " + s);
      }
      MlpReference.assertChecksums(ref.get("checksums_after_step_4"), model);
      // The log history rounds the loss to 4 digits, as transformers does.
      assertEquals(Math.round(ref.get("loss").get(0).asDouble() * 1e4) / 1e4,
          trainer.state().logHistory().get(0).get("loss"));
    }
  }
}
