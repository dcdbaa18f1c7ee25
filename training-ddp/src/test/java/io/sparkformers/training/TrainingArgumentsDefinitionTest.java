package io.sparkformers.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkformers.config.ConfigKey;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The declarations of TrainingArguments' keys, its enums and its new keys. */
class TrainingArgumentsDefinitionTest {

  static String error(Map<String, ?> values) {
    return assertThrows(IllegalArgumentException.class, () -> TrainingArguments.fromMap(values, "job.yaml"))
        .getMessage();
  }

  @Test
  void everyKeyIsDeclaredOnceWithTypeDocAndGroup() {
    List<String> names = new ArrayList<>();
    for (ConfigKey<?> k : TrainingArguments.definition().keys()) {
      names.add(k.name());
      assertFalse(k.doc().isBlank(), k.name());
      assertFalse(k.group().isBlank(), k.name());
    }
    assertEquals(41, names.size());
    assertEquals(names, List.copyOf(TrainingArguments.keys()));
    assertEquals(names, List.copyOf(TrainingArguments.builder("o").build().toMap().keySet()));
    assertThrows(IllegalStateException.class, () -> TrainingArguments.definition()
        .define(ConfigKey.builder("x", io.sparkformers.config.ConfigTypes.INT).doc("x")), "sealed");
  }

  @Test
  void enumsParseTransformersStrings() {
    assertEquals(IntervalStrategy.STEPS, IntervalStrategy.parse("steps"));
    assertEquals(SaveStrategy.BEST, SaveStrategy.parse("best"));
    assertEquals(SchedulerType.CONSTANT_WITH_WARMUP, SchedulerType.parse("constant_with_warmup"));
    assertEquals(OptimizerNames.ADAMW_TORCH, OptimizerNames.parse("adamw_torch"));
    assertEquals(DdpBackend.NCCL, DdpBackend.parse("nccl"));
    assertEquals("constant_with_warmup", SchedulerType.CONSTANT_WITH_WARMUP.toString());
    assertEquals(List.of("linear", "cosine", "constant", "constant_with_warmup"), TrainingArguments.SCHEDULER_TYPES);
    assertEquals(List.of("no", "steps", "epoch"), TrainingArguments.INTERVAL_STRATEGIES);
    assertEquals(List.of("adamw_torch", "sgd"), TrainingArguments.OPTIMIZERS);
  }

  @Test
  void badEnumStringsListTheValidValues() {
    assertEquals("step is not a valid IntervalStrategy, please select one of [no, steps, epoch] — did you mean"
        + " 'steps'?", assertThrows(IllegalArgumentException.class, () -> IntervalStrategy.parse("step")).getMessage());
    assertEquals("always is not a valid SaveStrategy, please select one of [no, steps, epoch, best]",
        assertThrows(IllegalArgumentException.class, () -> SaveStrategy.parse("always")).getMessage());
    assertEquals("adam is not a valid OptimizerNames, please select one of [adamw_torch, sgd]",
        assertThrows(IllegalArgumentException.class, () -> OptimizerNames.parse("adam")).getMessage());
    assertEquals("gloo is not a valid DdpBackend, please select one of [tcp, nccl]",
        assertThrows(IllegalArgumentException.class, () -> DdpBackend.parse("gloo")).getMessage());
    assertEquals("job.yaml: key 'eval_strategy': evry is not a valid IntervalStrategy, please select one of [no,"
        + " steps, epoch]", error(Map.of("eval_strategy", "evry")));
    assertEquals("job.yaml: key 'save_strategy': true is not a valid SaveStrategy, please select one of [no, steps,"
        + " epoch, best]", error(Map.of("save_strategy", true)));
    assertEquals("TrainingArguments: key 'lr_scheduler_type': cosin is not a valid SchedulerType, please select one"
        + " of [linear, cosine, constant, constant_with_warmup] — did you mean 'cosine'?",
        assertThrows(IllegalArgumentException.class, () -> TrainingArguments.builder("o").lrSchedulerType("cosin"))
            .getMessage());
  }

  @Test
  void builderTakesEnumsAndStrings() {
    TrainingArguments a = TrainingArguments.builder("o").evalStrategy(IntervalStrategy.EPOCH).saveStrategy("epoch")
        .loggingStrategy("no").optim(OptimizerNames.SGD).lrSchedulerType("cosine").build();
    assertEquals(IntervalStrategy.EPOCH, a.evalStrategy());
    assertEquals(SaveStrategy.EPOCH, a.saveStrategy());
    assertEquals(IntervalStrategy.NO, a.loggingStrategy());
    assertEquals(OptimizerNames.SGD, a.optim());
    assertEquals(SchedulerType.COSINE, a.lrSchedulerType());
    String e = assertThrows(IllegalArgumentException.class,
        () -> TrainingArguments.builder("o").optim((OptimizerNames) null).build()).getMessage();
    assertEquals("Invalid TrainingArguments: optim must be set", e);
  }

  @Test
  void toMapWritesTheSameStringsAndNumbersAsTransformers() {
    Map<String, Object> m = TrainingArguments.builder("out").build().toMap();
    assertEquals("out", m.get("output_dir"));
    assertEquals(42L, m.get("seed"));
    assertEquals(8, m.get("per_device_train_batch_size"));
    assertEquals(3.0, m.get("num_train_epochs"));
    assertEquals("adamw_torch", m.get("optim"));
    assertEquals("linear", m.get("lr_scheduler_type"));
    assertEquals("steps", m.get("logging_strategy"));
    assertEquals("no", m.get("eval_strategy"));
    assertEquals("steps", m.get("save_strategy"));
    assertEquals(500.0, m.get("save_steps"));
    assertEquals(null, m.get("eval_steps"));
    assertTrue(m.containsKey("eval_steps"));
    assertEquals(null, m.get("ddp_backend"), "chosen by device");
    assertEquals(1800, m.get("ddp_timeout"));
  }

  @Test
  void toMapAndFromMapRoundTrip() {
    TrainingArguments a = TrainingArguments.builder("out").evalStrategy("steps").evalSteps(10.0).saveSteps(20)
        .loadBestModelAtEnd(true).ddpTimeout(60).seed(7).build();
    assertEquals(a.toMap(), TrainingArguments.fromMap(a.toMap(), "training_args.json").toMap());
    assertEquals(a.toMap(), a.toBuilder().build().toMap());
    assertEquals(3, a.toBuilder().seed(3).build().seed());
    assertEquals(7, a.seed(), "toBuilder copies");
  }

  @Test
  void serialisesForSparkTasks() throws IOException, ClassNotFoundException {
    TrainingArguments a = TrainingArguments.builder("out").lrSchedulerType("cosine").dataSeed(3L).build();
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(a);
    }
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      TrainingArguments b = (TrainingArguments) in.readObject();
      assertEquals(a.toMap(), b.toMap());
      assertEquals(SchedulerType.COSINE, b.lrSchedulerType());
    }
  }

  @Test
  void ddpBackendAndTimeout() {
    TrainingArguments a = TrainingArguments.builder("o").build();
    assertEquals(null, a.ddpBackend(), "transformers' None: chosen by the rank's device");
    assertEquals(1800, a.ddpTimeout(), "transformers' default");
    assertEquals(60, TrainingArguments.fromMap(Map.of("ddp_timeout", "60"), "job.yaml").ddpTimeout());
    assertTrue(error(Map.of("ddp_timeout", 0)).contains("ddp_timeout must be a positive integer, got 0"));
    assertEquals("job.yaml: key 'ddp_timeout': expected an integer, got '1.5'", error(Map.of("ddp_timeout", 1.5)));
    assertEquals(DdpBackend.NCCL, TrainingArguments.fromMap(Map.of("ddp_backend", "nccl"), "job.yaml").ddpBackend());
    assertTrue(error(Map.of("ddp_backend", "gloo")).contains("gloo is not a valid DdpBackend"));
  }
}
