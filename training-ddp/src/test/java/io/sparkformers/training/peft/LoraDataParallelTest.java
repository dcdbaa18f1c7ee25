package io.sparkformers.training.peft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkformers.accelerate.BarrierLauncher;
import io.sparkformers.accelerate.ElementType;
import io.sparkformers.accelerate.ProcessGroup;
import io.sparkformers.accelerate.RankContext;
import io.sparkformers.training.Trainer;
import io.sparkformers.training.TrainingArguments;
import io.sparkformers.training.models.AutoModel;
import io.sparkformers.training.models.SafeTensorsFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * PEFT's 4 LoRA steps on two data-parallel ranks (Spark local[2] barrier tasks, 2 rows each): only the adapter
 * is all-reduced, the replicas stay bit-identical, and they reach PEFT's final adapter.
 */
class LoraDataParallelTest {
  static JavaSparkContext sc;

  @TempDir Path tmp;
  /** The result's entry holding the bytes the rank all-reduced per step. */
  static final String ALL_REDUCED = "all_reduced_bytes_per_step";

  @BeforeAll
  static void startSpark() {
    sc = new JavaSparkContext(new SparkConf().setMaster("local[2]").setAppName("lora-ddp-test")
        .set("spark.driver.host", "127.0.0.1").set("spark.driver.bindAddress", "127.0.0.1")
        .set("spark.ui.enabled", "false")
        .set("spark.scheduler.barrier.maxConcurrentTasksCheck.interval", "1s"));
  }

  @AfterAll
  static void stopSpark() {
    sc.stop();
  }

  /** One rank: the adapter's final weights by key, after checking that both ranks hold the same ones. */
  static HashMap<String, float[]> trainOneRank(String llama, String adapterInit, String out, RankContext ctx)
      throws Exception {
    // The fixed batch of 4 rows: 2 per rank on two ranks, all 4 on one.
    TrainingArguments args = LoraReferenceTest.peftArgs(Path.of(out)).perDeviceTrainBatchSize(4 / ctx.worldSize())
        .saveStrategy("no").build();
    try (Trainer trainer = Trainer.builder(() -> {
          try {
            return PeftModel.fromPretrained(AutoModel.fromPretrained(Path.of(llama)), Path.of(adapterInit));
          } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
        }, args).trainData(LoraReferenceTest.batch()).shuffle(false).processGroup(ctx.processGroup()).build()) {
      trainer.train();
      ProcessGroup pg = ctx.processGroup();
      ByteBuffer in = ByteBuffer.allocateDirect(64);
      in.put(trainer.parameterChecksum().getBytes(StandardCharsets.US_ASCII)).flip();
      ByteBuffer all = ByteBuffer.allocateDirect(64 * pg.worldSize());
      pg.allGather(in, all, ElementType.INT32);
      for (int r = 1; r < pg.worldSize(); r++) {
        if (all.slice(0, 64).compareTo(all.slice(r * 64, 64)) != 0) {
          throw new IllegalStateException("rank " + r + "'s adapter differs from rank 0's");
        }
      }
      HashMap<String, float[]> weights = new HashMap<>();
      trainer.model().trainableParameters().forEach((k, p) -> weights.put(k, p.getArray().toFloatArray()));
      weights.put(ALL_REDUCED, new float[] {trainer.allReducedBytesPerStep()});
      return weights;
    }
  }

  @Test
  void twoRanksReachPeftsFinalAdapter() throws Exception {
    String llama = LoraReferenceTest.hfTiny("llama").toString();
    String init = LoraReferenceTest.hfTiny("lora/adapter_init").toString();
    String out = tmp.resolve("ddp").toString();
    HashMap<String, float[]> ours = BarrierLauncher.run(sc, 2, ctx -> trainOneRank(llama, init, out, ctx));
    HashMap<String, float[]> alone = BarrierLauncher.run(sc, 1, ctx -> trainOneRank(llama, init, out + "1", ctx));
    // Only the adapter crosses between ranks: 2,496 float32 values per step (the base's 73,200 never do).
    assertEquals(2496 * 4, ours.remove(ALL_REDUCED)[0]);
    assertEquals(0, alone.remove(ALL_REDUCED)[0]);
    double vsOneRank = 0;
    for (String key : alone.keySet()) {
      for (int i = 0; i < alone.get(key).length; i++) {
        vsOneRank = Math.max(vsOneRank, Math.abs(alone.get(key)[i] - ours.get(key)[i]));
      }
    }
    assertTrue(vsOneRank <= 1e-6, "two ranks differ from one by " + vsOneRank);
    double max = 0;
    try (SafeTensorsFile expected = SafeTensorsFile.open(
        LoraReferenceTest.hfTiny("lora/adapter_final/adapter_model.safetensors"))) {
      assertEquals(expected.names().size(), ours.size());
      for (String key : expected.names()) {
        float[] theirs = expected.readFloats(key);
        float[] mine = ours.get(key);
        for (int i = 0; i < theirs.length; i++) {
          double d = Math.abs(theirs[i] - mine[i]);
          max = Math.max(max, d);
        }
      }
    }
    System.out.println("2-rank LoRA adapter vs PEFT: max |diff| " + max);
    assertTrue(max < 1e-5, "adapter weights differ by " + max);
  }
}
