package io.sparkformers.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparkformers.training.internal.Autocast;
import io.sparkformers.training.internal.Autograd;
import io.sparkformers.training.internal.MixedPrecision;
import io.sparkformers.training.models.AutoModel;
import io.sparkformers.training.models.PreTrainedModel;
import io.sparkformers.training.models.internal.Ops;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * bf16 mixed precision with torch autocast's meaning, on CPU: the matrix products round to bfloat16, the weights,
 * gradients and optimizer state stay float32, and 5 AdamW steps of the tiny Llama follow torch's own CPU autocast
 * run (hf-tiny/bf16/results.json, written by make_reference.py there with Debian's torch 1.13).
 */
class MixedPrecisionTest {
  @TempDir
  Path tmp;

  static Path resource(String relative) {
    try {
      return Paths.get(MixedPrecisionTest.class.getResource("/hf-tiny/" + relative).toURI());
    } catch (URISyntaxException | NullPointerException e) {
      throw new IllegalStateException("missing test resource hf-tiny/" + relative, e);
    }
  }

  /** The fixed 4 × 16 batch of the LoRA reference, labels = input_ids. */
  static ArrayData batch() throws IOException {
    JsonNode rows = new ObjectMapper().readTree(resource("lora/results.json").toFile()).get("batch");
    long[] ids = new long[4 * 16];
    for (int i = 0; i < 4; i++) {
      for (int j = 0; j < 16; j++) {
        ids[i * 16 + j] = rows.get(i).get(j).asLong();
      }
    }
    return ArrayData.builder().longs("input_ids", ids, 16).longs("labels", ids, 16).build();
  }

  /** The losses of 5 steps (AdamW lr 1e-3, constant, no clipping, no weight decay), bf16 or float32. */
  private List<Double> losses(boolean bf16, String name) throws IOException {
    List<Double> losses = new ArrayList<>();
    try (PreTrainedModel model = AutoModel.fromPretrained(resource("llama"))) {
      TrainingArguments args = TrainingArguments.builder(tmp.resolve(name).toString()).optim("adamw_torch")
          .learningRate(1e-3).weightDecay(0).lrSchedulerType("constant").warmupSteps(0).maxGradNorm(0)
          .perDeviceTrainBatchSize(4).maxSteps(5).loggingSteps(1).saveStrategy("no").disableTqdm(true)
          .bf16(bf16).build();
      try (Trainer trainer = Trainer.builder(model, args).trainData(batch()).shuffle(false)
          .callback(new TrainerCallback() {
            @Override
            public void onLog(TrainingArguments a, TrainerState s, TrainerControl c, Map<String, Object> logs) {
              if (logs.containsKey("loss")) {
                losses.add(s.lastStepLoss());
              }
            }
          }).build()) {
        trainer.train();
      }
      for (Map.Entry<String, Parameter> p : model.namedParameters().entrySet()) {
        assertEquals(DataType.FLOAT32, p.getValue().getArray().getDataType(), p.getKey() + " stays float32");
        assertEquals(DataType.FLOAT32, p.getValue().getArray().getGradient().getDataType(),
            p.getKey() + "'s gradient stays float32");
      }
    }
    return losses;
  }

  @Test
  void bf16TinyLlamaFollowsTorchCpuAutocastAndStaysNearFloat32() throws IOException {
    JsonNode ref = new ObjectMapper().readTree(resource("bf16/results.json").toFile());
    List<Double> f32 = losses(false, "f32");
    List<Double> bf16 = losses(true, "bf16");
    assertEquals(5, f32.size());
    assertEquals(5, bf16.size());
    double f32VsTorch = 0;
    double bf16VsTorch = 0;
    double bf16VsF32 = 0;
    for (int s = 0; s < 5; s++) {
      f32VsTorch = Math.max(f32VsTorch, Math.abs(f32.get(s) - ref.get("float32_losses").get(s).asDouble()));
      bf16VsTorch = Math.max(bf16VsTorch, Math.abs(bf16.get(s) - ref.get("bf16_autocast_losses").get(s).asDouble()));
      bf16VsF32 = Math.max(bf16VsF32, Math.abs(bf16.get(s) - f32.get(s)));
    }
    System.out.println("tiny Llama 5 steps: float32 " + f32 + ", bf16 " + bf16 + "; |float32 - torch| "
        + f32VsTorch + ", |bf16 - torch autocast| " + bf16VsTorch + ", |bf16 - float32| " + bf16VsF32);
    assertTrue(f32VsTorch < 1e-4, "float32 losses differ from torch's by " + f32VsTorch);
    assertTrue(bf16VsF32 < 2e-2, "bf16 losses differ from float32 by " + bf16VsF32);
    assertTrue(bf16VsF32 > 1e-6, "bf16 gave float32's losses: autocast was not applied");
    assertTrue(bf16VsTorch < 1e-3, "bf16 losses differ from torch's CPU autocast by " + bf16VsTorch);
  }

  @Test
  void autocastLinearRoundsToBf16AndItsGradientReachesTheFloat32Weight() {
    try (NDManager m = NDManager.newBaseManager(); Autocast autocast = Autocast.load(m, MixedPrecision.BF16)) {
      NDArray x = m.randomNormal(new Shape(8, 64));
      NDArray w = m.randomNormal(new Shape(32, 64));
      w.setRequiresGradient(true);
      boolean before = Autograd.isEnabled();
      NDArray y;
      try (Autocast.Scope scope = autocast.enter()) {
        Autograd.enable();
        y = Ops.linear(x, w, null);
        assertEquals(DataType.FLOAT32, y.getDataType(), "the product comes back widened to float32");
        Autograd.backward(y.sum());
      } finally {
        Autograd.setEnabled(before);
      }
      assertEquals(null, Autocast.active(), "the scope restored the thread's state");
      float[] out = y.toFloatArray();
      for (float v : out) {
        assertEquals(0, Float.floatToRawIntBits(v) & 0xffff, v + " is not a bfloat16 value");
      }
      // Against the float32 product of the bf16-rounded operands: within one bf16 rounding of it.
      float[] xs = autocast.roundTrip(x).toFloatArray();
      float[] ws = autocast.roundTrip(w).toFloatArray();
      double worst = 0;
      for (int i = 0; i < 8; i++) {
        for (int o = 0; o < 32; o++) {
          double exact = 0;
          double scale = 0;
          for (int k = 0; k < 64; k++) {
            exact += (double) xs[i * 64 + k] * ws[o * 64 + k];
            scale += Math.abs((double) xs[i * 64 + k] * ws[o * 64 + k]);
          }
          worst = Math.max(worst, Math.abs(out[i * 32 + o] - exact) / Math.max(scale, 1e-3));
        }
      }
      assertTrue(worst <= 1.0 / 256, "bf16 product off by " + worst + " of its magnitude");
      // d sum(y) / dW[o, k] = sum_i x[i, k]: float32, exact to bf16 rounding.
      NDArray grad = w.getGradient();
      assertEquals(DataType.FLOAT32, grad.getDataType());
      float[] g = grad.toFloatArray();
      float[] colSums = x.sum(new int[] {0}).toFloatArray();
      double gradErr = 0;
      for (int o = 0; o < 32; o++) {
        for (int k = 0; k < 64; k++) {
          gradErr = Math.max(gradErr, Math.abs(g[o * 64 + k] - colSums[k]));
        }
      }
      assertTrue(gradErr < 0.05, "gradient off by " + gradErr);
    }
  }

  @Test
  void fp16AutocastRoundsProductsToFloat16() {
    // The kernels' float16 branch, which the Trainer uses on GPUs only; libtorch multiplies float16 on CPUs too.
    try (NDManager m = NDManager.newBaseManager(); Autocast autocast = Autocast.load(m, MixedPrecision.FP16)) {
      NDArray a = m.randomNormal(new Shape(4, 32));
      NDArray b = m.randomNormal(new Shape(32, 8));
      float[] out = autocast.matmul(a, b).toFloatArray();
      float[] exact = a.matMul(b).toFloatArray();
      for (int i = 0; i < out.length; i++) {
        // A float16 value widened to float32 has at most 11 significant bits (normal range).
        assertEquals(0, Float.floatToRawIntBits(out[i]) & 0x1fff, out[i] + " is not a float16 value");
        assertTrue(Math.abs(out[i] - exact[i]) <= 0.02 * (Math.abs(exact[i]) + 1), out[i] + " vs " + exact[i]);
      }
    }
  }

  @Test
  void autocastRefusesANonFloat32OperandWithAnException() {
    try (NDManager m = NDManager.newBaseManager(); Autocast autocast = Autocast.load(m, MixedPrecision.BF16)) {
      NDArray half = m.ones(new Shape(2, 2), DataType.FLOAT16);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> autocast.matmul(half, half));
      assertEquals("autocast matmul operand must be float32, got float16", e.getMessage());
    }
  }

  @Test
  void aBfloat16TensorIsAnExceptionNotAJvmAbort() throws Exception {
    // DJL cannot make one; a TorchScript cast can (test resource dtype/to_bf16.pt). Every call that
    // would hand its dtype back to DJL's JNI (which aborts the JVM on it) must throw instead.
    try (NDManager m = NDManager.newBaseManager();
        java.io.InputStream in = MixedPrecisionTest.class.getResourceAsStream("/dtype/to_bf16.pt");
        Autocast autocast = Autocast.load(m, MixedPrecision.BF16)) {
      ai.djl.pytorch.engine.PtSymbolBlock toBf16 = ai.djl.pytorch.jni.JniUtils.loadModule(
          (ai.djl.pytorch.engine.PtNDManager) m, in, true, false);
      NDArray bf16;
      try (ai.djl.pytorch.jni.IValue arg = ai.djl.pytorch.jni.IValue.from(
              (ai.djl.pytorch.engine.PtNDArray) m.ones(new Shape(2, 2)));
          ai.djl.pytorch.jni.IValue out = io.sparkformers.training.internal.DjlNative.runTraining(toBf16, "forward",
              arg)) {
        bf16 = out.toTensor((ai.djl.pytorch.engine.PtNDManager) m);
      }
      assertEquals(DataType.UNKNOWN, bf16.getDataType(), "DJL's name for a bfloat16 tensor");
      IllegalArgumentException scalar = assertThrows(IllegalArgumentException.class, () -> Ops.mul(bf16, 2.0));
      assertTrue(scalar.getMessage().startsWith("a scalar operation got a tensor of a dtype DJL's PyTorch engine"
          + " cannot name"), scalar.getMessage());
      assertThrows(IllegalArgumentException.class, () -> new io.sparkformers.training.models.nn.RMSNorm(2, 1e-6)
          .forward(bf16));
      assertThrows(IllegalArgumentException.class, () -> autocast.linear(bf16, bf16, null));
      toBf16.close();
    }
  }

  @Test
  void fp16IsRefusedOnCpuNamingTheDevice() throws IOException {
    try (PreTrainedModel model = AutoModel.fromPretrained(resource("llama"))) {
      TrainingArguments args = TrainingArguments.builder(tmp.toString()).fp16(true).disableTqdm(true).build();
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> Trainer.builder(model, args).trainData(batch()).build());
      assertEquals("fp16 mixed precision requires a GPU (the model is on cpu()); use bf16=true on CPU",
          e.getMessage());
    }
  }
}
