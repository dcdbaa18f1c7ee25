package io.sparkformers.training.ddp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import io.sparkformers.training.internal.NoGrad;
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
    sc = new JavaSparkContext(new SparkConf().setMaster("local[2]").setAppName("ddp-trainer-test")
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
  }
}
