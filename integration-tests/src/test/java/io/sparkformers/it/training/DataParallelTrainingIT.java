package io.sparkformers.it.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import io.sparkformers.accelerate.BarrierLauncher;
import io.sparkformers.accelerate.ElementType;
import io.sparkformers.accelerate.ProcessGroup;
import io.sparkformers.accelerate.ProcessGroupOptions;
import io.sparkformers.accelerate.RankContext;
import io.sparkformers.accelerate.RankFunction;
import io.sparkformers.it.LocalClusterSpark;
import io.sparkformers.training.ArrayData;
import io.sparkformers.training.Trainer;
import io.sparkformers.training.TrainerCallback;
import io.sparkformers.training.TrainerControl;
import io.sparkformers.training.TrainerState;
import io.sparkformers.training.TrainingArguments;
import io.sparkformers.training.models.AutoConfig;
import io.sparkformers.training.models.AutoModel;
import io.sparkformers.training.models.PreTrainedModel;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.SplittableRandom;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two ranks in two executor JVMs ({@code local-cluster[2,1,1024]}) train an MLP data-parallel with AdamW: the
 * replicas end bit-identical; and when rank 1 fails mid-run, Spark retries the barrier stage, every rank
 * resumes from the newest complete checkpoint by itself, and the final weights equal the uninterrupted run's.
 */
class DataParallelTrainingIT {
  private static JavaSparkContext sc;
  private static final ProcessGroupOptions OPTIONS =
      ProcessGroupOptions.builder().timeout(Duration.ofSeconds(60)).build();

  @TempDir Path tmp;

  @BeforeAll
  static void startCluster() {
    sc = LocalClusterSpark.start(LocalClusterSpark.conf(2, 1, 1024, "training-ddp-it")
        .set("spark.stage.maxConsecutiveAttempts", "2")
        .set("spark.executor.extraJavaOptions", "-Dai.djl.offline=true -Dai.djl.default_engine=PyTorch"
            + " -Dai.djl.pytorch.num_threads=1"), 2, Duration.ofSeconds(90));
  }

  @AfterAll
  static void stopCluster() {
    sc.stop();
  }

  /** Every rank's weight checksum and JVM as "checksum pid" (80 bytes: whole INT32s), gathered to rank 0. */
  static String gather(ProcessGroup pg, String checksum) {
    byte[] mine = (checksum + " " + String.format("%015d", ProcessHandle.current().pid()))
        .getBytes(StandardCharsets.US_ASCII);
    ByteBuffer in = ByteBuffer.allocateDirect(mine.length).put(mine).flip();
    ByteBuffer out = ByteBuffer.allocateDirect(mine.length * pg.worldSize());
    pg.allGather(in, out, ElementType.INT32);
    StringBuilder sb = new StringBuilder();
    for (int r = 0; r < pg.worldSize(); r++) {
      byte[] b = new byte[mine.length];
      out.get(r * mine.length, b);
      sb.append(new String(b, StandardCharsets.US_ASCII)).append('\n');
    }
    return sb.toString();
  }

  /** One rank: 12 AdamW steps on synthetic separable data, checkpoints every 4; rank 1 may fail once. */
  static final class TrainRank implements RankFunction<String> {
    private static final long serialVersionUID = 1L;
    private final String outputDir;
    private final long failAtStep;

    TrainRank(String outputDir, long failAtStep) {
      this.outputDir = outputDir;
      this.failAtStep = failAtStep;
    }

    @Override
    public String apply(RankContext ctx) throws Exception {
      ArrayData data = SeparableData.of(384);
      // Each rank starts from its own seed: rank 0's weights must reach rank 1 by broadcast.
      Engine.getInstance().setRandomSeed(100 + ctx.rank());
      try (PreTrainedModel model = AutoModel.fromConfig(AutoConfig.fromJson(SeparableData.MLP_CONFIG, "it"))) {
        TrainingArguments args = TrainingArguments.builder(outputDir).learningRate(1e-2).weightDecay(0.01)
            .perDeviceTrainBatchSize(16).maxSteps(12).saveSteps(4).loggingSteps(2).warmupSteps(2)
            .disableTqdm(true).build();
        Trainer trainer = Trainer.builder(model, args).trainData(data).processGroup(ctx.processGroup())
            .callback(new TrainerCallback() {
              @Override
              public void onStepEnd(TrainingArguments a, TrainerState s, TrainerControl c) {
                if (ctx.attempt() == 0 && ctx.rank() == 1 && s.globalStep() == failAtStep) {
                  throw new IllegalStateException("injected failure of rank 1 at step " + failAtStep);
                }
              }
            })
            .build();
        trainer.train();
        return ctx.attempt() + "\n" + trainer.state().globalStep() + "\n"
            + gather(ctx.processGroup(), trainer.parameterChecksum());
      }
    }
  }

  @Test
  void ranksInTwoJvmsStayBitIdenticalAndARetriedStageResumesFromTheNewestCheckpoint() throws Exception {
    String full = BarrierLauncher.run(sc, 2, OPTIONS, new TrainRank(tmp.resolve("full").toString(), -1));
    String[] f = full.split("\n");
    assertEquals("0", f[0], "the uninterrupted run needed no retry");
    assertEquals("12", f[1]);
    String[] r0 = f[2].split(" ");
    String[] r1 = f[3].split(" ");
    assertEquals(r0[0], r1[0], "replicas differ after training: " + full);
    assertNotEquals(r0[1], r1[1], "both ranks ran in one JVM: " + full);

    // Rank 1 fails after step 6, once: checkpoint-4 is the newest complete one.
    Path out = tmp.resolve("retried");
    String retried = BarrierLauncher.run(sc, 2, OPTIONS, new TrainRank(out.toString(), 6));
    String[] g = retried.split("\n");
    assertEquals("1", g[0], "the stage should have been retried once: " + retried);
    assertEquals("12", g[1]);
    assertEquals(g[2].split(" ")[0], g[3].split(" ")[0], "replicas differ after the retry");
    assertEquals(r0[0], g[2].split(" ")[0], "the resumed run's weights differ from the uninterrupted run's");
    assertTrue(Files.isDirectory(out.resolve("checkpoint-12")));
  }

  /** Rank 0 of a short run with evaluation: returns the JVM it ran in. */
  static final class LoggingRank implements RankFunction<Long> {
    private static final long serialVersionUID = 1L;
    private final String outputDir;

    LoggingRank(String outputDir) {
      this.outputDir = outputDir;
    }

    @Override
    public Long apply(RankContext ctx) throws Exception {
      SplittableRandom rng = new SplittableRandom(3);
      int rows = 96;
      float[] x = new float[rows * 8];
      long[] y = new long[rows];
      for (int i = 0; i < rows; i++) {
        y[i] = rng.nextInt(2);
        for (int j = 0; j < 8; j++) {
          x[i * 8 + j] = (float) (rng.nextGaussian() + (j % 2 == y[i] ? 1 : 0));
        }
      }
      ArrayData data = ArrayData.builder().floats("features", x, 8).longs("labels", y, 1).build();
      Engine.getInstance().setRandomSeed(5);
      try (PreTrainedModel model = AutoModel.fromConfig(AutoConfig.fromJson("{\"model_type\": \"mlp\","
          + " \"input_size\": 8, \"hidden_sizes\": [16], \"num_labels\": 2}", "it"))) {
        TrainingArguments args = TrainingArguments.builder(outputDir).learningRate(1e-2)
            .perDeviceTrainBatchSize(8).maxSteps(10).loggingSteps(3).evalStrategy("steps").evalSteps(5.0)
            .saveStrategy("no").build();
        Trainer.builder(model, args).trainData(data).evalData(data.slice(0, 40)).rankContext(ctx).build()
            .train();
      }
      return ProcessHandle.current().pid();
    }
  }

  @Test
  void theDriverReceivesRankZerosLogEventsFromAnExecutorJvm() throws Exception {
    Path out = tmp.resolve("streamed");
    java.io.ByteArrayOutputStream bar = new java.io.ByteArrayOutputStream();
    java.util.List<java.util.Map<String, Object>> received;
    long rankPid;
    try (io.sparkformers.training.DriverLogListener logs = io.sparkformers.training.DriverLogListener.open(sc, 2,
        new java.io.PrintStream(bar, true, StandardCharsets.UTF_8), java.util.List.of())) {
      rankPid = BarrierLauncher.run(sc, 2, OPTIONS, new LoggingRank(out.toString()));
      logs.close(); // waits for rank 0's last events
      received = logs.logHistory();
      assertTrue(logs.trainEnded(), "train_end did not arrive");
    }
    assertNotEquals(ProcessHandle.current().pid(), rankPid, "rank 0 ran in the driver's JVM");
    // What rank 0 wrote, line by line, against what the driver received.
    com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
    java.util.List<String> lines = Files.readAllLines(out.resolve("log_history.jsonl"));
    assertEquals(lines.size(), received.size(), "log entries: " + received);
    int losses = 0;
    int evals = 0;
    for (int i = 0; i < lines.size(); i++) {
      com.fasterxml.jackson.databind.JsonNode written = json.readTree(lines.get(i));
      java.util.Map<String, Object> got = received.get(i);
      assertEquals(written.get("step").asLong(), ((Number) got.get("step")).longValue(), "step of entry " + i);
      for (String key : new String[] {"loss", "eval_loss", "learning_rate", "epoch"}) {
        if (written.has(key)) {
          assertEquals(written.get(key).asDouble(), ((Number) got.get(key)).doubleValue(), 0.0,
              key + " of entry " + i);
        }
      }
      losses += written.has("loss") ? 1 : 0;
      evals += written.has("eval_loss") ? 1 : 0;
    }
    assertEquals(3, losses, "loss logged at steps 3, 6, 9");
    assertEquals(2, evals, "evaluated at steps 5 and 10");
    assertEquals(java.util.List.of(3L, 6L, 9L), received.stream().filter(e -> e.containsKey("loss"))
        .map(e -> ((Number) e.get("step")).longValue()).toList());
    String drawn = bar.toString(StandardCharsets.UTF_8);
    assertTrue(drawn.contains("10/10"), "the driver drew no complete progress bar: " + drawn);
  }
}
