package io.sparkformers.training.ddp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import io.sparkformers.accelerate.BarrierLauncher;
import io.sparkformers.accelerate.ElementType;
import io.sparkformers.accelerate.ProcessGroup;
import io.sparkformers.accelerate.RankContext;
import io.sparkformers.training.MlpReferenceAccess;
import io.sparkformers.training.Trainer;
import io.sparkformers.training.TrainerCallback;
import io.sparkformers.training.TrainerControl;
import io.sparkformers.training.TrainerState;
import io.sparkformers.training.TrainingArguments;
import io.sparkformers.training.internal.Autograd;
import io.sparkformers.training.models.internal.Ops;
import io.sparkformers.training.internal.NoGrad;
import io.sparkformers.training.optim.Param;
import io.sparkformers.training.models.AutoModel;
import io.sparkformers.training.models.PreTrainedModel;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two data-parallel ranks as threads of one JVM (Spark {@code local[2]}, barrier tasks, the TCP process
 * group) reproduce PyTorch DDP's SGD steps of the reference MLP, and hold bit-identical weights.
 */
class DataParallelTrainerTest {
  static JavaSparkContext sc;

  @TempDir Path tmp;

  @BeforeAll
  static void startSpark() {
    sc = localTwoRanks("ddp-trainer-test");
  }

  /** A Spark context of two local barrier slots on loopback, for tests whose ranks are its tasks. */
  static JavaSparkContext localTwoRanks(String appName) {
    return new JavaSparkContext(new SparkConf().setMaster("local[2]").setAppName(appName)
        .set("spark.driver.host", "127.0.0.1").set("spark.driver.bindAddress", "127.0.0.1")
        .set("spark.ui.enabled", "false")
        .set("spark.scheduler.barrier.maxConcurrentTasksCheck.interval", "1s"));
  }

  @AfterAll
  static void stopSpark() {
    sc.stop();
  }

  /** The SHA-256 of every rank's weights, gathered so that rank 0 can compare them. */
  static List<String> allChecksums(ProcessGroup pg, String mine) {
    ByteBuffer in = ByteBuffer.allocateDirect(64);
    in.put(mine.getBytes(StandardCharsets.US_ASCII)).flip();
    ByteBuffer out = ByteBuffer.allocateDirect(64 * pg.worldSize());
    pg.allGather(in, out, ElementType.INT32);
    List<String> all = new ArrayList<>();
    for (int r = 0; r < pg.worldSize(); r++) {
      byte[] b = new byte[64];
      out.get(r * 64, b);
      all.add(new String(b, StandardCharsets.US_ASCII));
    }
    return all;
  }

  /**
   * Gradients bound to the buckets: rank r's gradients are (r+1)·c; each round must average them, including a
   * round whose backward ran after the binding (it accumulates into the bucket memory) and a round after the
   * buckets carried weights for a broadcast (which unbinds; the next round binds again).
   */
  static List<float[]> bucketRounds(RankContext ctx) {
    ProcessGroup pg = ctx.processGroup();
    List<float[]> seen = new ArrayList<>();
    try (NDManager m = Engine.getEngine("PyTorch").newBaseManager()) {
      NDArray w = m.create(new float[] {1, 2, 3, 4}, new Shape(2, 2));
      NDArray b = m.create(new float[] {5, 6});
      w.setRequiresGradient(true);
      b.setRequiresGradient(true);
      GradientBuckets buckets = new GradientBuckets(
          List.of(new Param("w", w, true), new Param("b", b, false)), pg, 25L << 20);
      for (float scale : new float[] {1, 10}) {
        backward(m, w, b, scale * (ctx.rank() + 1));
        buckets.allReduceMean();
        seen.add(w.getGradient().toFloatArray());
        seen.add(b.getGradient().toFloatArray());
        Autograd.zeroGrad(w);
        Autograd.zeroGrad(b);
      }
      backward(m, w, b, 100 * (ctx.rank() + 1));
      buckets.broadcastParameters(0); // weights go through the buckets: the gradients must stay as they are
      seen.add(w.getGradient().toFloatArray());
      buckets.allReduceMean();
      seen.add(w.getGradient().toFloatArray());
      buckets.unbindGradients();
      seen.add(b.getGradient().toFloatArray());
    }
    return seen;
  }

  /** d/dw of sum(w·k) + sum(b·2k): k for every weight, 2k for every bias. */
  static void backward(NDManager m, NDArray w, NDArray b, float k) {
    Autograd.enable();
    try {
      // Ops.mul, not DJL's mul(Number): autograd keeps the number for backward (OpsScalarLifetimeTest).
      Autograd.backward(Ops.mul(w, k).sum().add(Ops.mul(b, 2 * k).sum()));
    } finally {
      Autograd.setEnabled(false);
    }
  }

  @Test
  void gradientsAveragedInTheirBucketsSurviveRebindingAndBroadcasts() throws Exception {
    List<float[]> seen = BarrierLauncher.run(sc, 2, DataParallelTrainerTest::bucketRounds);
    // Means over ranks 1 and 2 of (r+1)·k: 1.5k for weights, 3k for biases.
    float[][] expected = {{1.5f, 1.5f, 1.5f, 1.5f}, {3f, 3f}, {15f, 15f, 15f, 15f}, {30f, 30f},
        {100f, 100f, 100f, 100f}, {150f, 150f, 150f, 150f}, {300f, 300f}};
    assertEquals(expected.length, seen.size());
    for (int i = 0; i < expected.length; i++) {
      org.junit.jupiter.api.Assertions.assertArrayEquals(expected[i], seen.get(i), "round value " + i);
    }
  }

  /** What each rank runs (static: the function is serialised and must not capture the test instance). */
  static Map<String, Object> trainOneRank(String init, String out, RankContext ctx) throws Exception {
    List<Double> losses = new ArrayList<>();
    try (PreTrainedModel model = AutoModel.fromPretrained(Path.of(init))) {
      // Scramble rank 1's weights: the broadcast of rank 0's at the start must undo it.
      if (ctx.rank() == 1) {
        try (NoGrad ignored = new NoGrad()) {
          model.namedParameters().values().forEach(p -> p.getArray().muli(3f));
        }
      }
      TrainingArguments args = MlpReferenceAccess.sgdArgs(Path.of(out), 64, 5);
      Trainer trainer = Trainer.builder(model, args).trainData(MlpReferenceAccess.data()).shuffle(false)
          .processGroup(ctx.processGroup())
          .callback(new TrainerCallback() {
            @Override
            public void onLog(TrainingArguments a, TrainerState s, TrainerControl c, Map<String, Object> l) {
              if (l.containsKey("loss")) {
                losses.add(s.lastStepLoss());
              }
            }
          })
          .build();
      trainer.train();
      Map<String, Object> r = new HashMap<>();
      r.put("losses", losses);
      r.put("checksums", allChecksums(ctx.processGroup(), trainer.parameterChecksum()));
      r.put("sums", MlpReferenceAccess.sumsAndNorms(model));
      r.put("buckets", trainer.gradientBuckets());
      return r;
    }
  }

  @Test
  void twoRanksMatchPyTorchDdpWithBitIdenticalReplicas() throws Exception {
    String init = MlpReferenceAccess.modelFolder(tmp.resolve("init")).toString();
    String out = tmp.resolve("out").toString();
    JsonNode ref = MlpReferenceAccess.expected().get("ddp_ws2_fp32");
    Map<String, Object> result = BarrierLauncher.run(sc, 2, ctx -> trainOneRank(init, out, ctx));
    @SuppressWarnings("unchecked")
    List<Double> losses = (List<Double>) result.get("losses");
    for (int s = 0; s < 5; s++) {
      assertEquals(ref.get("loss").get(s).asDouble(), losses.get(s), 1e-5, "loss of step " + s);
    }
    @SuppressWarnings("unchecked")
    List<String> checksums = (List<String>) result.get("checksums");
    assertEquals(2, checksums.size());
    assertEquals(checksums.get(0), checksums.get(1), "the replicas' weights differ");
    @SuppressWarnings("unchecked")
    Map<String, double[]> sums = (Map<String, double[]>) result.get("sums");
    JsonNode expected = ref.get("checksums_after_step_4");
    for (Map.Entry<String, double[]> e : sums.entrySet()) {
      double l2 = expected.get(e.getKey()).get("l2").asDouble();
      assertEquals(l2, e.getValue()[1], 1e-5 * l2, e.getKey() + " L2");
      assertEquals(expected.get(e.getKey()).get("sum").asDouble(), e.getValue()[0], 1e-4 * l2, e.getKey() + " sum");
    }
    assertTrue(losses.get(4) < losses.get(0));
    // Ranks on one host: every bucket is a registered buffer, all-reduced in shared memory without staging.
    int[] buckets = (int[]) result.get("buckets");
    assertEquals(2, buckets[1], "PyTorch DDP's buckets of this MLP: the first of 1 MiB, then the rest");
    assertEquals(buckets[1], buckets[0], "registered buckets");
  }

  /** Accuracy and the count of rows evaluated, from the argmax of the logits. */
  static Map<String, Double> accuracy(io.sparkformers.training.EvalPrediction p) {
    long[] predicted = p.argmax();
    long[] labels = p.labelIds();
    int right = 0;
    for (int i = 0; i < labels.length; i++) {
      right += predicted[i] == labels[i] ? 1 : 0;
    }
    return Map.of("accuracy", (double) right / labels.length, "rows", (double) labels.length);
  }

  /** One rank's evaluation of the reference MLP (evaluate() and predict()), with an uneven last round. */
  static Map<String, Object> evaluateOneRank(String init, String out, int batch, ProcessGroup group)
      throws Exception {
    try (PreTrainedModel model = AutoModel.fromPretrained(Path.of(init))) {
      TrainingArguments args = TrainingArguments.builder(out).perDeviceEvalBatchSize(batch).disableTqdm(true)
          .build();
      Trainer.Builder b = Trainer.builder(model, args).evalData(MlpReferenceAccess.data())
          .computeMetrics(DataParallelTrainerTest::accuracy);
      if (group != null) {
        b.processGroup(group);
      }
      Trainer trainer = b.build();
      Map<String, Double> metrics = new HashMap<>(trainer.evaluate());
      Trainer.Prediction p = trainer.predict(MlpReferenceAccess.data(), "test");
      Map<String, Object> r = new HashMap<>();
      r.put("eval_loss", metrics.get("eval_loss"));
      r.put("eval_accuracy", metrics.get("eval_accuracy"));
      r.put("eval_rows", metrics.get("eval_rows"));
      r.put("predictions", p.predictions());
      r.put("labels", p.labels());
      r.put("test_metrics", p.metrics());
      return r;
    }
  }

  @Test
  void evaluationShardedOverTwoRanksEqualsOneRankExactly() throws Exception {
    String init = MlpReferenceAccess.modelFolder(tmp.resolve("init")).toString();
    String out = tmp.resolve("eval").toString();
    long rows = MlpReferenceAccess.data().numRows();
    // A batch size that ends the eval set in a short batch, in a last round where rank 1 has no batch.
    int batch = 5;
    while (rows % batch == 0 || ((rows + batch - 1) / batch) % 2 == 0) {
      batch++;
    }
    int bs = batch;
    Map<String, Object> two = BarrierLauncher.run(sc, 2, ctx -> evaluateOneRank(init, out, bs, ctx.processGroup()));
    Map<String, Object> one = evaluateOneRank(init, out, bs, null);
    assertEquals((double) rows, two.get("eval_rows"), "every row evaluated once, none twice");
    assertEquals(one.get("eval_loss"), two.get("eval_loss"));
    assertEquals(one.get("eval_accuracy"), two.get("eval_accuracy"));
    assertEquals(one.get("test_metrics"), two.get("test_metrics"));
    float[][] p1 = (float[][]) one.get("predictions");
    float[][] p2 = (float[][]) two.get("predictions");
    assertEquals(rows, p2.length);
    for (int i = 0; i < rows; i++) {
      org.junit.jupiter.api.Assertions.assertArrayEquals(p1[i], p2[i], 0f, "logits of row " + i);
    }
    long[][] l1 = (long[][]) one.get("labels");
    long[][] l2 = (long[][]) two.get("labels");
    for (int i = 0; i < rows; i++) {
      org.junit.jupiter.api.Assertions.assertArrayEquals(l1[i], l2[i], "labels of row " + i);
    }
  }

  @Test
  void theDriverReceivesRankZerosLogEventsAndDrawsTheBar() throws Exception {
    String init = MlpReferenceAccess.modelFolder(tmp.resolve("init")).toString();
    Path out = tmp.resolve("streamed");
    java.io.ByteArrayOutputStream bar = new java.io.ByteArrayOutputStream();
    List<Map<String, Object>> received;
    Map<String, Object> result;
    try (io.sparkformers.training.DriverLogListener logs = io.sparkformers.training.DriverLogListener.open(sc, 2,
        new java.io.PrintStream(bar, true, StandardCharsets.UTF_8), List.of())) {
      String outDir = out.toString();
      result = BarrierLauncher.run(sc, 2, ctx -> trainOneRank(init, outDir, ctx));
      logs.close();
      received = logs.logHistory();
      assertTrue(logs.trainEnded());
    }
    @SuppressWarnings("unchecked")
    List<Double> losses = (List<Double>) result.get("losses");
    List<String> lines = java.nio.file.Files.readAllLines(out.resolve("log_history.jsonl"));
    assertEquals(6, lines.size(), "5 logged steps and the end of training");
    assertEquals(lines.size(), received.size());
    com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
    for (int i = 0; i < lines.size(); i++) {
      assertEquals(lines.get(i), json.writeValueAsString(received.get(i)), "entry " + i);
    }
    for (int s = 0; s < 5; s++) {
      assertEquals(s + 1L, ((Number) received.get(s).get("step")).longValue());
      assertEquals(Math.round(losses.get(s) * 1e4) / 1e4, ((Number) received.get(s).get("loss")).doubleValue(), 0.0);
    }
    assertTrue(bar.toString(StandardCharsets.UTF_8).contains("5/5"), bar.toString(StandardCharsets.UTF_8));
    // Without a listener open, nothing is streamed: the next run finds no channel.
    assertEquals(null, sc.getLocalProperty(io.sparkformers.accelerate.DriverChannel.LOCAL_PROPERTY));
  }

  /** One rank of a tiny GPT-2 with dropout 0.1, created by the Trainer from the seed alone; returns its checksum. */
  static String trainGptWithDropout(String out, RankContext ctx) {
    String config = "{\"model_type\": \"gpt2\", \"vocab_size\": 50, \"n_positions\": 16, \"n_embd\": 16,"
        + " \"n_layer\": 2, \"n_head\": 2, \"resid_pdrop\": 0.1, \"embd_pdrop\": 0.1, \"attn_pdrop\": 0.1}";
    long[] ids = new long[32 * 8];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = (i * 7 + i / 8) % 50;
    }
    io.sparkformers.training.ArrayData data = io.sparkformers.training.ArrayData.builder().longs("input_ids", ids, 8)
        .longs("labels", ids, 8).build();
    TrainingArguments args = TrainingArguments.builder(out).perDeviceTrainBatchSize(4).maxSteps(3)
        .saveStrategy("no").disableTqdm(true).learningRate(1e-3).build();
    try (Trainer trainer = Trainer.builder(
            () -> AutoModel.fromConfig(io.sparkformers.training.models.AutoConfig.fromJson(config, "test")), args)
        .trainData(data).processGroup(ctx.processGroup()).build()) {
      trainer.train();
      List<String> all = allChecksums(ctx.processGroup(), trainer.parameterChecksum());
      if (!all.get(0).equals(all.get(1))) {
        throw new IllegalStateException("the replicas' weights differ: " + all);
      }
      return all.get(0);
    }
  }

  @Test
  void ranksSharingOneJvmDrawTheirInitAndDropoutReproducibly() throws Exception {
    String out = tmp.resolve("gpt").toString();
    List<String> runs = new ArrayList<>();
    for (int run = 0; run < 3; run++) {
      runs.add(BarrierLauncher.run(sc, 2, ctx -> trainGptWithDropout(out, ctx)));
    }
    assertEquals(List.of(runs.get(0), runs.get(0), runs.get(0)), runs);
  }
}
