package io.sparkformers.training.ddp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import io.sparkformers.accelerate.BarrierLauncher;
import io.sparkformers.accelerate.RankContext;
import io.sparkformers.training.MlpReferenceAccess;
import io.sparkformers.training.Trainer;
import io.sparkformers.training.TrainerCallback;
import io.sparkformers.training.TrainerControl;
import io.sparkformers.training.TrainerState;
import io.sparkformers.training.TrainingArguments;
import io.sparkformers.training.TrainingData;
import io.sparkformers.training.models.AutoModel;
import io.sparkformers.training.models.PreTrainedModel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Trainer whose ranks hold only their own rows ({@code rankShards}): dealt as the shared-data Trainer deals
 * batches, the shards reproduce PyTorch DDP's reference steps and the whole-data evaluation exactly; uneven
 * shards still give every rank as many steps.
 */
class RankShardsTrainerTest {
  static JavaSparkContext sc;

  @TempDir Path tmp;

  @BeforeAll
  static void startSpark() {
    sc = new JavaSparkContext(new SparkConf().setMaster("local[2]").setAppName("rank-shards-test")
        .set("spark.driver.host", "127.0.0.1").set("spark.driver.bindAddress", "127.0.0.1")
        .set("spark.ui.enabled", "false")
        .set("spark.scheduler.barrier.maxConcurrentTasksCheck.interval", "1s"));
  }

  @AfterAll
  static void stopSpark() {
    sc.stop();
  }

  /** Some rows of another dataset, in the given order: what a rank holds. */
  static TrainingData rows(TrainingData all, long[] ids) {
    return new TrainingData() {
      @Override
      public long numRows() {
        return ids.length;
      }

      @Override
      public Set<String> columns() {
        return all.columns();
      }

      @Override
      public Map<String, NDArray> batch(NDManager manager, long[] rows) {
        long[] global = new long[rows.length];
        for (int i = 0; i < rows.length; i++) {
          global[i] = ids[(int) rows[i]];
        }
        return all.batch(manager, global);
      }
    };
  }

  /** The rows of batches rank, rank + ws, ... of {@code n} rows in batches of {@code bs}. */
  static long[] batchesOf(long n, int bs, int rank, int ws) {
    List<Long> out = new ArrayList<>();
    for (long b = rank; b * bs < n; b += ws) {
      for (long r = b * bs; r < Math.min(n, (b + 1) * bs); r++) {
        out.add(r);
      }
    }
    return out.stream().mapToLong(Long::longValue).toArray();
  }

  static Map<String, Object> trainShard(String init, TrainingArguments args, RankContext ctx, long[] mine,
      boolean shuffle) throws Exception {
    List<Double> losses = new ArrayList<>();
    try (PreTrainedModel model = AutoModel.fromPretrained(Path.of(init))) {
      Trainer trainer = Trainer.builder(model, args).trainData(rows(MlpReferenceAccess.data(), mine))
          .rankShards(true).shuffle(shuffle).processGroup(ctx.processGroup())
          .callback(new TrainerCallback() {
            @Override
            public void onLog(TrainingArguments a, TrainerState s, TrainerControl c, Map<String, Object> l) {
              if (l.containsKey("loss")) {
                losses.add(s.lastStepLoss());
              }
            }
          }).build();
      Map<String, Double> metrics = trainer.train();
      Map<String, Object> r = new HashMap<>();
      r.put("losses", losses);
      r.put("global_step", metrics.get("global_step"));
      r.put("checksums", DataParallelTrainerTest.allChecksums(ctx.processGroup(), trainer.parameterChecksum()));
      return r;
    }
  }

  @Test
  void shardsDealtByBatchReproducePyTorchDdp() throws Exception {
    String init = MlpReferenceAccess.modelFolder(tmp.resolve("init")).toString();
    String out = tmp.resolve("out").toString();
    long n = MlpReferenceAccess.data().numRows();
    JsonNode ref = MlpReferenceAccess.expected().get("ddp_ws2_fp32");
    Map<String, Object> result = BarrierLauncher.run(sc, 2,
        ctx -> trainShard(init, MlpReferenceAccess.sgdArgs(Path.of(out), 64, 5), ctx, batchesOf(n, 64, ctx.rank(), 2),
            false));
    @SuppressWarnings("unchecked")
    List<Double> losses = (List<Double>) result.get("losses");
    for (int s = 0; s < 5; s++) {
      assertEquals(ref.get("loss").get(s).asDouble(), losses.get(s), 1e-5, "loss of step " + s);
    }
    @SuppressWarnings("unchecked")
    List<String> checksums = (List<String>) result.get("checksums");
    assertEquals(checksums.get(0), checksums.get(1), "the replicas' weights differ");
  }

  @Test
  void unevenShardsTakeAsManyStepsOnEveryRank() throws Exception {
    String init = MlpReferenceAccess.modelFolder(tmp.resolve("init")).toString();
    String out = tmp.resolve("uneven").toString();
    // 21 rows and 9: in batches of 4 the larger shard decides, 6 steps an epoch, the smaller wraps around.
    Map<String, Object> result = BarrierLauncher.run(sc, 2, ctx -> {
      long[] mine = new long[ctx.rank() == 0 ? 21 : 9];
      for (int i = 0; i < mine.length; i++) {
        mine[i] = ctx.rank() == 0 ? i : 21 + i;
      }
      TrainingArguments args = TrainingArguments.builder(out).optim("sgd").learningRate(0.1)
          .perDeviceTrainBatchSize(4).numTrainEpochs(1).loggingSteps(1).saveStrategy("no").disableTqdm(true)
          .build();
      return trainShard(init, args, ctx, mine, true);
    });
    assertEquals(6.0, result.get("global_step"));
    @SuppressWarnings("unchecked")
    List<String> checksums = (List<String>) result.get("checksums");
    assertEquals(checksums.get(0), checksums.get(1), "the replicas' weights differ");
  }

  @Test
  void evaluationOverShardsDealtByBatchEqualsOneRankWithEveryRow() throws Exception {
    String init = MlpReferenceAccess.modelFolder(tmp.resolve("init")).toString();
    String out = tmp.resolve("eval").toString();
    long n = MlpReferenceAccess.data().numRows();
    int bs = 7; // a short last batch
    Map<String, Object> two = BarrierLauncher.run(sc, 2, ctx -> {
      try (PreTrainedModel model = AutoModel.fromPretrained(Path.of(init))) {
        TrainingArguments args = TrainingArguments.builder(out).perDeviceEvalBatchSize(bs).disableTqdm(true).build();
        Trainer trainer = Trainer.builder(model, args)
            .evalData(rows(MlpReferenceAccess.data(), batchesOf(n, bs, ctx.rank(), 2))).rankShards(true)
            .computeMetrics(DataParallelTrainerTest::accuracy).processGroup(ctx.processGroup()).build();
        Map<String, Object> r = new HashMap<>(trainer.evaluate());
        r.put("predictions", trainer.predict(rows(MlpReferenceAccess.data(), batchesOf(n, bs, ctx.rank(), 2)),
            "test").predictions());
        return r;
      }
    });
    Map<String, Object> one = DataParallelTrainerTest.evaluateOneRank(init, out, bs, null);
    assertEquals(one.get("eval_loss"), two.get("eval_loss"));
    assertEquals(one.get("eval_accuracy"), two.get("eval_accuracy"));
    assertEquals((double) n, two.get("eval_rows"));
    float[][] p1 = (float[][]) one.get("predictions");
    float[][] p2 = (float[][]) two.get("predictions");
    assertEquals(n, p2.length);
    for (int i = 0; i < n; i++) {
      assertArrayEquals(p1[i], p2[i], 0f, "logits of row " + i);
    }
    assertTrue((double) two.get("eval_loss") > 0);
  }
}
