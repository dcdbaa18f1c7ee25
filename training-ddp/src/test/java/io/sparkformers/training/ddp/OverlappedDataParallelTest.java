package io.sparkformers.training.ddp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.sparkformers.accelerate.BarrierLauncher;
import io.sparkformers.accelerate.ProcessGroup;
import io.sparkformers.accelerate.RankContext;
import io.sparkformers.training.ArrayData;
import io.sparkformers.training.Trainer;
import io.sparkformers.training.TrainingArguments;
import io.sparkformers.training.internal.Autograd;
import io.sparkformers.training.internal.BackwardSegments;
import io.sparkformers.training.internal.TorchRandom;
import io.sparkformers.training.models.AutoConfig;
import io.sparkformers.training.models.AutoModel;
import io.sparkformers.training.models.PreTrainedModel;
import io.sparkformers.training.optim.OptimizerFactory;
import io.sparkformers.training.optim.Param;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two data-parallel ranks (Spark local[2] barrier tasks, the TCP process group on real sockets): the averaged
 * gradients of an overlapped backward (buckets all-reduced while the segments below run) are bit-identical to
 * those of a full backward followed by the all-reduce, for GPT-2 and Llama; and the Trainer with
 * {@code ddp_overlap_backward} on and off ends with bit-identical weights.
 */
class OverlappedDataParallelTest {
  static JavaSparkContext sc;

  @TempDir Path tmp;

  @BeforeAll
  static void startSpark() {
    sc = DataParallelTrainerTest.localTwoRanks("overlap-ddp-test");
  }

  @AfterAll
  static void stopSpark() {
    sc.stop();
  }

  static final String GPT2 = "{\"model_type\": \"gpt2\", \"vocab_size\": 96, \"n_positions\": 16, \"n_embd\": 32,"
      + " \"n_layer\": 3, \"n_head\": 4, \"resid_pdrop\": 0.1, \"embd_pdrop\": 0.1, \"attn_pdrop\": 0.1,"
      + " \"tie_word_embeddings\": false}";
  static final String LLAMA = "{\"model_type\": \"llama\", \"vocab_size\": 96, \"hidden_size\": 32,"
      + " \"intermediate_size\": 72, \"num_hidden_layers\": 3, \"num_attention_heads\": 4,"
      + " \"num_key_value_heads\": 2, \"max_position_embeddings\": 16, \"tie_word_embeddings\": true}";

  /** Rows × 12 tokens that differ by rank and round (labels = inputs). */
  static ArrayData data(int rows, int salt) {
    long[] ids = new long[rows * 12];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = (i * 31 + i / 12 * 7 + salt * 11) % 96;
    }
    return ArrayData.builder().longs("input_ids", ids, 12).longs("labels", ids, 12).build();
  }

  /** Forward and backward of this rank's batch for {@code round}, then the averaged gradients by parameter. */
  static Map<String, float[]> averagedGradients(PreTrainedModel model, GradientBuckets buckets, List<Param> params,
      int rank, int round, boolean overlap) {
    params.forEach(p -> Autograd.zeroGrad(p.array()));
    boolean was = Autograd.isEnabled();
    try (NDManager batch = model.manager().newSubManager();
        BackwardSegments segments = overlap ? buckets.overlapNextBackward() : null) {
      if (overlap && segments == null) {
        throw new IllegalStateException("the buckets offered no overlapped backward");
      }
      // The same dropout masks with and without overlap (a stream per rank thread: the generator is JVM-wide).
      TorchRandom.beginStep(100 + round);
      Map<String, NDArray> in = data(3, rank * 10 + round).batch(batch, new long[] {0, 1, 2});
      Autograd.enable();
      Autograd.backward(model.forward(in, true).loss());
    } finally {
      Autograd.setEnabled(was);
      TorchRandom.endSteps();
    }
    buckets.allReduceMean();
    Map<String, float[]> out = new HashMap<>();
    params.forEach(p -> out.put(p.name(), p.array().getGradient().toFloatArray()));
    return out;
  }

  /** Per model: rounds compared (0 when every averaged gradient matched bit for bit), buckets, overlapped. */
  static Map<String, long[]> compareOneRank(RankContext ctx) {
    ProcessGroup pg = ctx.processGroup();
    Map<String, long[]> result = new HashMap<>();
    for (String config : List.of(GPT2, LLAMA)) {
      try (PreTrainedModel model = TorchRandom.seeded(3, () -> AutoModel.fromConfig(AutoConfig.fromJson(config,
          "test")))) {
        List<Param> params = OptimizerFactory.parameterGroups(model.trainableParameters());
        // Small buckets (16 KiB): several per model, so some can go while backward still runs.
        GradientBuckets buckets = new GradientBuckets(params, pg, 16 << 10);
        try {
          averagedGradients(model, buckets, params, pg.rank(), 0, false); // binds the gradients to the buckets
          long differing = 0;
          for (int round = 1; round <= 2; round++) {
            Map<String, float[]> plain = averagedGradients(model, buckets, params, pg.rank(), round, false);
            Map<String, float[]> overlapped = averagedGradients(model, buckets, params, pg.rank(), round, true);
            for (Param p : params) {
              if (!java.util.Arrays.equals(plain.get(p.name()), overlapped.get(p.name()))) {
                differing++;
              }
            }
          }
          List<String> checksums = DataParallelTrainerTest.allChecksums(pg, checksum(params));
          long ranksAgree = checksums.get(0).equals(checksums.get(1)) ? 1 : 0;
          result.put(model.modelType(), new long[] {differing, buckets.bucketBytes().size(),
              buckets.bucketsLaunchedDuringBackward(), ranksAgree});
        } finally {
          buckets.unbindGradients();
        }
      }
    }
    return result;
  }

  /** SHA-256 (hex) of every gradient, in parameter order. */
  static String checksum(List<Param> params) {
    try {
      java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
      for (Param p : params) {
        for (float v : p.array().getGradient().toFloatArray()) {
          int bits = Float.floatToRawIntBits(v);
          md.update(new byte[] {(byte) bits, (byte) (bits >> 8), (byte) (bits >> 16), (byte) (bits >> 24)});
        }
      }
      return java.util.HexFormat.of().formatHex(md.digest());
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void overlappedAveragedGradientsAreBitIdenticalForGpt2AndLlama() throws Exception {
    Map<String, long[]> r = BarrierLauncher.run(sc, 2, OverlappedDataParallelTest::compareOneRank);
    for (String model : List.of("gpt2", "llama")) {
      long[] v = r.get(model);
      assertEquals(0, v[0], model + ": parameters whose averaged gradient differs with overlap");
      assertEquals(1, v[3], model + ": the two ranks' averaged gradients differ");
      assertTrue(v[1] >= 4, model + ": buckets " + v[1]);
      // Two overlapped rounds: every bucket but those holding a parameter final only at the end (the embeddings,
      // and with them everything bucketed after them) went on the wire while backward still ran.
      assertTrue(v[2] >= 2 * (v[1] - 2), model + ": " + v[2] + " of " + 2 * v[1] + " launches during backward");
    }
  }

  /**
   * The Trainer on a Llama with two accumulation steps, overlap on or off: the final weights' checksum. The model
   * fits one bucket (1 MiB is the smallest cap), so this checks the Trainer's segmented backward (cuts, the tied
   * head, accumulation); the test above checks launches during backward.
   */
  static String trainLlama(String out, boolean overlap, RankContext ctx) {
    TrainingArguments args = TrainingArguments.builder(out).perDeviceTrainBatchSize(2).gradientAccumulationSteps(2)
        .maxSteps(3).learningRate(1e-2).ddpBucketCapMb(1).ddpOverlapBackward(overlap).saveStrategy("no")
        .disableTqdm(true).build();
    try (Trainer trainer = Trainer.builder(() -> AutoModel.fromConfig(AutoConfig.fromJson(LLAMA, "test")), args)
        .trainData(data(16, 0)).processGroup(ctx.processGroup()).build()) {
      trainer.train();
      List<String> all = DataParallelTrainerTest.allChecksums(ctx.processGroup(), trainer.parameterChecksum());
      if (!all.get(0).equals(all.get(1))) {
        throw new IllegalStateException("the replicas' weights differ: " + all);
      }
      return all.get(0);
    }
  }

  @Test
  void trainerWeightsAreBitIdenticalWithAndWithoutOverlap() throws Exception {
    String out = tmp.resolve("llama").toString();
    List<String> runs = new ArrayList<>();
    for (boolean overlap : new boolean[] {false, true}) {
      runs.add(BarrierLauncher.run(sc, 2, ctx -> trainLlama(out, overlap, ctx)));
    }
    assertEquals(runs.get(0), runs.get(1));
  }
}
