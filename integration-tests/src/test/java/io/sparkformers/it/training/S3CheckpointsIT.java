package io.sparkformers.it.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import io.sparkformers.it.S3ProxyServer;
import io.sparkformers.training.ArrayData;
import io.sparkformers.training.Trainer;
import io.sparkformers.training.TrainerCallback;
import io.sparkformers.training.TrainerControl;
import io.sparkformers.training.TrainerState;
import io.sparkformers.training.TrainingArguments;
import io.sparkformers.training.checkpoint.CheckpointStore;
import io.sparkformers.training.models.AutoConfig;
import io.sparkformers.training.models.AutoModel;
import io.sparkformers.training.models.PreTrainedModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checkpoints on {@code s3a://} against a real S3-compatible server (s3proxy, a child process): written
 * atomically, rotated, verified on the way back; a damaged newest checkpoint is skipped and the run resumed
 * from the previous one ends bit-identical to the uninterrupted run.
 */
class S3CheckpointsIT {

  @TempDir Path tmp;

  static ArrayData data() {
    SplittableRandom rng = new SplittableRandom(11);
    float[] x = new float[96 * 8];
    long[] y = new long[96];
    for (int i = 0; i < 96; i++) {
      y[i] = rng.nextInt(2);
      for (int j = 0; j < 8; j++) {
        x[i * 8 + j] = (float) (rng.nextGaussian() + (j < 4 == (y[i] == 1) ? 1 : 0));
      }
    }
    return ArrayData.builder().floats("features", x, 8).longs("labels", y, 1).build();
  }

  static PreTrainedModel model() {
    Engine.getInstance().setRandomSeed(5);
    return AutoModel.fromConfig(AutoConfig.fromJson("{\"model_type\": \"mlp\", \"input_size\": 8,"
        + " \"hidden_sizes\": [16], \"num_labels\": 2}", "it"));
  }

  static TrainingArguments.Builder args(String out) {
    return TrainingArguments.builder(out).learningRate(1e-2).perDeviceTrainBatchSize(16).maxSteps(9)
        .saveSteps(3).saveTotalLimit(2).disableTqdm(true);
  }

  @Test
  void checkpointsOnS3aAreAtomicRotatedVerifiedAndResumable() throws Exception {
    try (S3ProxyServer s3 = S3ProxyServer.start(tmp.resolve("s3"))) {
      s3.createBucket("ckpt");
      Configuration conf = new Configuration();
      s3.hadoopConfiguration().forEach(conf::set);
      String out = "s3a://ckpt/run";
      String uninterrupted;
      try (PreTrainedModel m = model()) {
        Trainer t = Trainer.builder(m, args(out).build()).trainData(data()).hadoopConf(conf).build();
        t.train();
        uninterrupted = t.parameterChecksum();
      }
      CheckpointStore store = new CheckpointStore(out, conf);
      assertEquals(List.of(6L, 9L), store.steps(), "save_total_limit 2 keeps the newest two");
      Path bucket = tmp.resolve("s3/storage/ckpt/run");
      assertTrue(Files.exists(bucket.resolve("checkpoint-9/model.safetensors")), "stored as objects in the bucket");
      // Damage the newest on the server: resuming falls back to checkpoint-6 and reproduces the run exactly.
      Files.writeString(bucket.resolve("checkpoint-9/scheduler.json"), "{\"last_epoch\": 0}");
      try (PreTrainedModel m = model()) {
        int[] stepsRun = {0};
        Trainer t = Trainer.builder(m, args(out).saveStrategy("no").resumeFromCheckpoint("true").build())
            .trainData(data()).hadoopConf(conf)
            .callback(new TrainerCallback() {
              @Override
              public void onStepEnd(TrainingArguments a, TrainerState s, TrainerControl c) {
                stepsRun[0]++;
              }
            })
            .build();
        t.train();
        assertEquals(3, stepsRun[0], "resumed at step 6, not from the damaged checkpoint-9");
        assertEquals(9, t.state().globalStep());
        assertEquals(uninterrupted, t.parameterChecksum());
      }
    }
  }
}
