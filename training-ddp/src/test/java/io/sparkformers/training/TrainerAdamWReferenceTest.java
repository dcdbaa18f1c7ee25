package io.sparkformers.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparkformers.training.checkpoint.CheckpointStore;
import io.sparkformers.training.models.AutoModel;
import io.sparkformers.training.models.PreTrainedModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * AdamW with decoupled weight decay, a linear schedule with warmup, gradient accumulation and clipping,
 * against transformers' loop written in PyTorch ({@code ref_adamw_mlp.py}); then resumption from a
 * checkpoint, bit-identical to the uninterrupted run.
 */
class TrainerAdamWReferenceTest {

  @TempDir Path tmp;

  static TrainingArguments.Builder adamw(Path out) {
    return TrainingArguments.builder(out.toString()).learningRate(1e-3).weightDecay(0.01).warmupSteps(2)
        .maxGradNorm(1.0).gradientAccumulationSteps(2).perDeviceTrainBatchSize(64).maxSteps(5)
        .loggingSteps(1).disableTqdm(true);
  }

  @Test
  void adamWScheduleAccumulationAndClippingMatchPyTorch() throws Exception {
    JsonNode ref = MlpReference.expected().get("adamw_linear_warmup2_gas2_clip1");
    List<Double> losses = new ArrayList<>();
    try (PreTrainedModel model = AutoModel.fromPretrained(MlpReference.modelFolder(tmp.resolve("init")))) {
      Trainer trainer = Trainer.builder(model, adamw(tmp.resolve("out")).saveStrategy("no").build())
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
      trainer.train();
      List<Map<String, Object>> history = trainer.state().logHistory();
      for (int s = 0; s < 5; s++) {
        assertEquals(ref.get("loss").get(s).asDouble(), losses.get(s), 1e-5, "loss of step " + s);
        double norm = ref.get("grad_norm").get(s).asDouble();
        assertEquals(norm, ((Number) history.get(s).get("grad_norm")).doubleValue(), 1e-5 * norm, "grad norm " + s);
        // transformers logs the rate of the next step (get_last_lr after scheduler.step()).
        double nextLr = s + 1 < 5 ? ref.get("lr").get(s + 1).asDouble() : 0.0;
        assertEquals(nextLr, ((Number) history.get(s).get("learning_rate")).doubleValue(), 1e-15);
        assertEquals(s + 1L, history.get(s).get("step"));
      }
      MlpReference.assertChecksums(ref.get("checksums_after_step_4"), model);
    }
  }

  @Test
  void resumingFromACheckpointEndsBitIdenticalToAnUninterruptedRun() throws Exception {
    Path init = MlpReference.modelFolder(tmp.resolve("init"));
    ArrayData data = MlpReference.data();
    String uninterrupted;
    Path out = tmp.resolve("full");
    try (PreTrainedModel model = AutoModel.fromPretrained(init)) {
      Trainer t = Trainer.builder(model, adamw(out).saveSteps(2).build()).trainData(data).build();
      t.train();
      uninterrupted = t.parameterChecksum();
    }
    // HF layout, written atomically with checksums.
    Path ck = out.resolve("checkpoint-2");
    for (String f : List.of("config.json", "model.safetensors", "optimizer.safetensors", "scheduler.json",
        "trainer_state.json", "training_args.json", "rng_state.json", CheckpointStore.CHECKSUMS)) {
      assertTrue(Files.isRegularFile(ck.resolve(f)), f);
    }
    assertTrue(Files.isDirectory(out.resolve("checkpoint-4")) && Files.isDirectory(out.resolve("checkpoint-5")));
    assertFalse(Files.exists(out.resolve("tmp-checkpoint-2")));
    TrainerState saved = TrainerState.fromJson(Files.readString(ck.resolve("trainer_state.json")), "state");
    assertEquals(2, saved.globalStep());
    assertEquals(2, saved.logHistory().size());

    try (PreTrainedModel model = AutoModel.fromPretrained(init)) {
      Trainer t = Trainer.builder(model, adamw(tmp.resolve("resumed")).saveStrategy("no")
              .resumeFromCheckpoint(ck.toString()).build())
          .trainData(data).build();
      t.train();
      assertEquals(5, t.state().globalStep());
      assertEquals(uninterrupted, t.parameterChecksum());
    }
  }

  @Test
  void resumeFromTheNewestSkipsACorruptCheckpoint() throws Exception {
    Path init = MlpReference.modelFolder(tmp.resolve("init"));
    ArrayData data = MlpReference.data();
    Path out = tmp.resolve("run");
    String uninterrupted;
    try (PreTrainedModel model = AutoModel.fromPretrained(init)) {
      Trainer t = Trainer.builder(model, adamw(out).saveSteps(2).build()).trainData(data).build();
      t.train();
      uninterrupted = t.parameterChecksum();
    }
    // checkpoint-5 and checkpoint-4 damaged: resuming with "true" falls back to checkpoint-2.
    Files.delete(out.resolve("checkpoint-5/" + CheckpointStore.CHECKSUMS));
    Files.writeString(out.resolve("checkpoint-4/scheduler.json"), "{\"last_epoch\": 1}");
    try (PreTrainedModel model = AutoModel.fromPretrained(init)) {
      Trainer t = Trainer.builder(model, adamw(out).saveStrategy("no").resumeFromCheckpoint("true").build())
          .trainData(data).build();
      t.train();
      assertEquals(uninterrupted, t.parameterChecksum());
    }
  }

  @Test
  void aRunResumedAfterAFailureReportsTheWholeRunsLossAndLogsEachStepOnce() throws Exception {
    Path init = MlpReference.modelFolder(tmp.resolve("init"));
    ArrayData data = MlpReference.data();
    Map<String, Double> uninterrupted;
    List<String> uninterruptedLog;
    try (PreTrainedModel model = AutoModel.fromPretrained(init)) {
      Path out = tmp.resolve("full");
      uninterrupted = Trainer.builder(model, adamw(out).saveSteps(2).build()).trainData(data).build().train();
      uninterruptedLog = Files.readAllLines(out.resolve("log_history.jsonl"));
    }
    Path out = tmp.resolve("failed");
    try (PreTrainedModel model = AutoModel.fromPretrained(init)) {
      // Dies after step 3 was logged, one step past checkpoint-2.
      Trainer t = Trainer.builder(model, adamw(out).saveSteps(2).build()).trainData(data)
          .callback(new TrainerCallback() {
            @Override
            public void onLog(TrainingArguments a, TrainerState s, TrainerControl c, Map<String, Object> logs) {
              if (s.globalStep() == 3) {
                throw new IllegalStateException("executor lost");
              }
            }
          }).build();
      assertThrows(IllegalStateException.class, t::train);
    }
    assertEquals(3, Files.readAllLines(out.resolve("log_history.jsonl")).size());
    Map<String, Double> resumed;
    try (PreTrainedModel model = AutoModel.fromPretrained(init)) {
      resumed = Trainer.builder(model, adamw(out).saveSteps(2).resumeFromCheckpoint("true").build())
          .trainData(data).build().train();
    }
    // transformers divides only the resumed steps' losses by all steps; here the sum of the steps before the
    // checkpoint travels with it, so the mean is over every step, bit for bit the uninterrupted run's.
    assertEquals(uninterrupted.get("train_loss"), resumed.get("train_loss"));
    double perSample = 64 * 2; // per_device_train_batch_size x gradient_accumulation_steps x 1 rank
    // train_runtime is rounded to 0.1 ms, a few parts in a thousand of this short run.
    double throughput = 5 * perSample / resumed.get("train_runtime");
    assertEquals(throughput, resumed.get("train_samples_per_second"), 5e-3 * throughput);
    ObjectMapper json = new ObjectMapper();
    double savedRuntime = json.readTree(out.resolve("checkpoint-2").resolve(TrainingCheckpoints.RUN_TOTALS)
        .toFile()).get("train_runtime").asDouble();
    assertTrue(resumed.get("train_runtime") > savedRuntime, "the runtime includes the attempt before the failure");

    List<String> log = Files.readAllLines(out.resolve("log_history.jsonl"));
    assertEquals(uninterruptedLog.size(), log.size(), String.join("\n", log));
    for (int i = 0; i < log.size(); i++) {
      JsonNode got = json.readTree(log.get(i));
      JsonNode want = json.readTree(uninterruptedLog.get(i));
      assertEquals(want.get("step"), got.get("step"), "line " + (i + 1));
      for (String key : List.of("loss", "grad_norm", "learning_rate", "train_loss")) {
        assertEquals(want.get(key), got.get(key), key + " on line " + (i + 1));
      }
    }
  }
}
