package io.sparkformers.it.gpu;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparkformers.accelerate.DeviceSelection;
import io.sparkformers.accelerate.ElementType;
import io.sparkformers.accelerate.ProcessGroup;
import io.sparkformers.accelerate.ProcessGroupBackend;
import io.sparkformers.accelerate.ProcessGroupOptions;
import io.sparkformers.accelerate.ProcessGroups;
import io.sparkformers.accelerate.ReduceOp;
import io.sparkformers.accelerate.nccl.NcclBackend;
import io.sparkformers.accelerate.nccl.NcclException;
import io.sparkformers.accelerate.nccl.NcclProcessGroup;
import io.sparkformers.training.ArrayData;
import io.sparkformers.training.Trainer;
import io.sparkformers.training.TrainerCallback;
import io.sparkformers.training.TrainerControl;
import io.sparkformers.training.TrainerState;
import io.sparkformers.training.TrainingArguments;
import io.sparkformers.training.internal.DjlNative;
import io.sparkformers.training.models.AutoConfig;
import io.sparkformers.training.models.AutoModel;
import io.sparkformers.training.models.FromPretrainedOptions;
import io.sparkformers.training.models.PreTrainedModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * The GPU device check of {@code integration-tests/gpu/device-check.sh} (see the README there): one process, one
 * rank through the torchrun-style environment rendezvous (no Spark), on the CUDA device {@code LOCAL_RANK} names.
 * Prints one {@code CHECK <n> PASS|FAIL ...} line per check and {@code DEVICE CHECK PASSED} when all pass; exit
 * status 0 only then. Arguments: {@code <tiny llama folder> <its fixed batch, lora/results.json> <output folder>}
 * and optionally {@code --throughput-only} or {@code --no-throughput}, {@code --cpu} (a dry run of the same
 * program on the CPU: every CUDA step is skipped and reported as such).
 */
public final class DeviceCheck {
  private static final List<String> RESULTS = new ArrayList<>();
  private static boolean failed;

  private DeviceCheck() {}

  public static void main(String[] argv) throws Exception {
    Path model = Path.of(argv[0]);
    Path batchFile = Path.of(argv[1]);
    Path out = Path.of(argv[2]);
    List<String> flags = List.of(argv).subList(3, argv.length);
    boolean cpuOnly = flags.contains("--cpu");
    Files.createDirectories(out);
    Map<String, String> env = new HashMap<>(System.getenv());
    env.putIfAbsent("MASTER_ADDR", "127.0.0.1");
    env.putIfAbsent("MASTER_PORT", "29511");
    env.putIfAbsent("RANK", "0");
    env.putIfAbsent("WORLD_SIZE", "1");
    env.putIfAbsent("LOCAL_RANK", "0");
    Engine engine = Engine.getEngine("PyTorch");
    System.out.println("engine " + engine.getEngineName() + " " + engine.getVersion() + ", CUDA devices "
        + engine.getGpuCount());
    Device gpu = DeviceSelection.forProcess(cpuOnly ? DeviceSelection.Mode.CPU : DeviceSelection.Mode.CUDA, env,
        DeviceSelection::visibleGpus);
    System.out.println("rank device: " + gpu + " (LOCAL_RANK=" + env.get("LOCAL_RANK") + ")");
    try (ProcessGroup group = ProcessGroups.fromEnvironment(env, ProcessGroupOptions.defaults())) {
      if (!flags.contains("--throughput-only")) {
        long[] batch = batch(batchFile);
        List<Double> cpu32 = losses(model, batch, Device.cpu(), "float32", group, out.resolve("cpu-f32"));
        if (gpu.isGpu()) {
          List<Double> gpu32 = losses(model, batch, gpu, "float32", group, out.resolve("gpu-f32"));
          check(1, "tiny Llama 5 steps float32: CUDA vs CPU", maxDiff(gpu32, cpu32), 1e-4, cpu32, gpu32);
          List<Double> gpu16 = losses(model, batch, gpu, "bf16", group, out.resolve("gpu-bf16"));
          check(2, "tiny Llama 5 steps bf16 on CUDA vs CPU float32", maxDiff(gpu16, cpu32), 2e-2, cpu32, gpu16);
          nccl(gpu);
          // fp16 with loss scaling: a step the scaler skips changes the later losses, the first one never.
          List<Double> gpuHalf = losses(model, batch, gpu, "fp16", group, out.resolve("gpu-fp16"));
          double first = gpuHalf.isEmpty() ? Double.POSITIVE_INFINITY : Math.abs(gpuHalf.get(0) - cpu32.get(0));
          boolean finite = gpuHalf.size() == 5 && gpuHalf.stream().allMatch(Double::isFinite);
          record(5, finite && first < 2e-2, String.format(Locale.ROOT, "tiny Llama 5 steps fp16 (GradScaler) on"
              + " CUDA: 5 finite losses %s, step 1 within %.3g of CPU float32 (tolerance 0.02); all steps max"
              + " |diff| %.3g", finite, first, maxDiff(gpuHalf, cpu32)));
        } else {
          List<Double> cpu16 = losses(model, batch, Device.cpu(), "bf16", group, out.resolve("cpu-bf16"));
          check(2, "tiny Llama 5 steps bf16 on the CPU vs CPU float32 (dry run)", maxDiff(cpu16, cpu32), 2e-2,
              cpu32, cpu16);
          RESULTS.add("CHECK 1 SKIPPED (no CUDA device)");
          RESULTS.add("CHECK 3 SKIPPED (no CUDA device)");
          RESULTS.add("CHECK 5 SKIPPED (no CUDA device)");
        }
      }
      if (!flags.contains("--no-throughput")) {
        throughput(gpu, flags, out);
      }
    }
    RESULTS.forEach(System.out::println);
    Files.write(out.resolve("device-check.txt"), RESULTS);
    System.out.println(failed ? "DEVICE CHECK FAILED" : "DEVICE CHECK PASSED");
    System.exit(failed ? 1 : 0);
  }

  /** The fixed 4 x 16 batch of hf-tiny/lora/results.json ("batch"). */
  static long[] batch(Path resultsJson) throws Exception {
    JsonNode rows = new ObjectMapper().readTree(resultsJson.toFile()).get("batch");
    long[] ids = new long[4 * 16];
    for (int i = 0; i < 4; i++) {
      for (int j = 0; j < 16; j++) {
        ids[i * 16 + j] = rows.get(i).get(j).asLong();
      }
    }
    return ids;
  }

  /** 5 AdamW steps (lr 1e-3, constant, no clipping) of the tiny Llama on {@code device}; the loss of each. */
  static List<Double> losses(Path folder, long[] ids, Device device, String precision, ProcessGroup group,
      Path out)
      throws Exception {
    List<Double> losses = new ArrayList<>();
    try (PreTrainedModel model = AutoModel.fromPretrained(folder, FromPretrainedOptions.builder().device(device)
        .build())) {
      TrainingArguments args = TrainingArguments.builder(out.toString()).optim("adamw_torch").learningRate(1e-3)
          .weightDecay(0).lrSchedulerType("constant").warmupSteps(0).maxGradNorm(0).perDeviceTrainBatchSize(4)
          .maxSteps(5).loggingSteps(1).saveStrategy("no").disableTqdm(true).bf16(precision.equals("bf16"))
          .fp16(precision.equals("fp16")).build();
      ArrayData data = ArrayData.builder().longs("input_ids", ids, 16).longs("labels", ids, 16).build();
      try (Trainer trainer = Trainer.builder(model, args).trainData(data).shuffle(false).processGroup(group)
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
    }
    System.out.println(precision + " losses on " + device + ": " + losses);
    return losses;
  }

  /** World-size-1 NCCL on device memory: all-reduce, broadcast, all-gather, then a call NCCL must refuse. */
  static void nccl(Device gpu) {
    ProcessGroupBackend.Endpoint endpoint = new NcclBackend().listen(0, 1, "127.0.0.1",
        ProcessGroupOptions.builder().cudaDevice(gpu.getDeviceId()).build());
    String reason = ((NcclBackend.NcclEndpoint) endpoint).unavailableReason();
    if (reason != null) {
      endpoint.close();
      fail(3, "NCCL world size 1: " + reason);
      return;
    }
    ProcessGroup pg = endpoint.connect(List.of(endpoint.address()), new byte[32]);
    if (!(pg instanceof NcclProcessGroup nccl)) {
      pg.close();
      fail(3, "NCCL world size 1: the backend fell back to " + pg.getClass().getSimpleName());
      return;
    }
    try (NDManager m = NDManager.newBaseManager(gpu, "PyTorch")) {
      int n = 1 << 20;
      NDArray x = m.arange(0, n, 1, DataType.FLOAT32);
      NDArray gathered = m.zeros(new Shape(n), DataType.FLOAT32);
      nccl.allReduceDevice(DjlNative.memory(x), ElementType.FLOAT32, ReduceOp.SUM);
      nccl.allReduceDevice(DjlNative.memory(x), ElementType.FLOAT32, ReduceOp.AVG);
      nccl.broadcastDevice(DjlNative.memory(x), ElementType.FLOAT32, 0);
      nccl.allGatherDevice(DjlNative.memory(x), DjlNative.memory(gathered), ElementType.FLOAT32);
      // Read back through libtorch (which waits for the stream): one rank's sum, mean and broadcast are x.
      double xErr = x.sub(m.arange(0, n, 1, DataType.FLOAT32)).abs().max().getFloat();
      double gErr = gathered.sub(m.arange(0, n, 1, DataType.FLOAT32)).abs().max().getFloat();
      String error;
      try {
        nccl.allReduceDevice(DjlNative.memory(x), 99, 0, 4); // no such ncclDataType_t
        error = "no exception";
      } catch (NcclException e) {
        error = e.getMessage();
      }
      boolean ok = xErr == 0 && gErr == 0 && error.startsWith("rank 0 of 1: ncclAllReduce failed with"
          + " ncclInvalidArgument (4)");
      record(3, ok, String.format(Locale.ROOT, "NCCL %d world size 1 on %s: all-reduce/broadcast max err %.1g,"
          + " all-gather max err %.1g; bad datatype -> %s", nccl.ncclVersion(), gpu, xErr, gErr, error));
    } catch (RuntimeException e) {
      fail(3, "NCCL world size 1: " + e);
    } finally {
      pg.close();
    }
  }

  /** Training throughput of the 853M Llama shape in bf16; batch and sequence from --batch/--seq (8 x 1024). */
  static void throughput(Device device, List<String> flags, Path out) throws Exception {
    int batch = intFlag(flags, "--batch", device.isGpu() ? 8 : 1);
    int seq = intFlag(flags, "--seq", device.isGpu() ? 1024 : 32);
    int layers = intFlag(flags, "--layers", device.isGpu() ? 16 : 1);
    int steps = intFlag(flags, "--steps", device.isGpu() ? 6 : 2);
    int warmup = Math.min(2, steps - 1);
    String config = String.format(Locale.ROOT, "{\"model_type\": \"llama\", \"vocab_size\": 32000,"
        + " \"hidden_size\": 2048, \"intermediate_size\": 5632, \"num_hidden_layers\": %d,"
        + " \"num_attention_heads\": 32, \"num_key_value_heads\": 8, \"max_position_embeddings\": %d,"
        + " \"rms_norm_eps\": 1e-5, \"tie_word_embeddings\": false}", layers, Math.max(seq, 2048));
    for (int b = batch; b >= 1; b /= 2) {
      try {
        double tokensPerSecond = trainTimed(AutoConfig.fromJson(config, "853M llama"), device, b, seq, steps,
            warmup, out);
        record(4, true, String.format(Locale.ROOT, "Llama 2048/5632/%d layers/32:8 heads/vocab 32000, bf16, B=%d"
            + " T=%d on %s: %.0f tokens/s (%d timed steps after %d)", layers, b, seq, device, tokensPerSecond,
            steps - warmup, warmup));
        RESULTS.add(String.format(Locale.ROOT, "JAVA_TOKENS_PER_SECOND %.0f B=%d T=%d", tokensPerSecond, b, seq));
        return;
      } catch (RuntimeException e) {
        System.out.println("throughput at B=" + b + " failed: " + e);
        if (b == 1) {
          fail(4, "throughput: " + e);
        }
      }
    }
  }

  private static double trainTimed(io.sparkformers.training.models.ModelConfig config, Device device, int batch,
      int seq, int steps, int warmup, Path out) throws Exception {
    int rows = batch * steps;
    long[] ids = new long[rows * seq];
    Random random = new Random(0);
    for (int i = 0; i < ids.length; i++) {
      ids[i] = random.nextInt(32000);
    }
    ArrayData data = ArrayData.builder().longs("input_ids", ids, seq).longs("labels", ids, seq).build();
    TrainingArguments args = TrainingArguments.builder(out.resolve("throughput").toString()).optim("adamw_torch")
        .learningRate(1e-4).perDeviceTrainBatchSize(batch).maxSteps(steps).loggingSteps(1).saveStrategy("no")
        .disableTqdm(true).bf16(true).build();
    long[] timedFrom = new long[1];
    long[] until = new long[1];
    try (PreTrainedModel model = AutoModel.fromConfig(config, device)) {
      long params = model.trainableParameters().values().stream().mapToLong(p -> p.getArray().size()).sum();
      System.out.println("throughput model: " + params + " parameters on " + device);
      try (Trainer trainer = Trainer.builder(model, args).trainData(data).shuffle(false)
          .callback(new TrainerCallback() {
            @Override
            public void onStepBegin(TrainingArguments a, TrainerState s, TrainerControl c) {
              if (s.globalStep() == warmup) {
                sync(model);
                timedFrom[0] = System.nanoTime();
              }
            }

            @Override
            public void onStepEnd(TrainingArguments a, TrainerState s, TrainerControl c) {
              if (s.globalStep() == steps) {
                sync(model);
                until[0] = System.nanoTime();
              }
            }
          }).build()) {
        trainer.train();
      }
    }
    return (double) (steps - warmup) * batch * seq / ((until[0] - timedFrom[0]) / 1e9);
  }

  /** Waits for the device's queued work: a value read back through libtorch. */
  private static void sync(PreTrainedModel model) {
    NDArray first = model.trainableParameters().values().iterator().next().getArray();
    try (NDArray one = first.get(0)) {
      one.toFloatArray();
    }
  }

  private static int intFlag(List<String> flags, String name, int otherwise) {
    int i = flags.indexOf(name);
    return i >= 0 && i + 1 < flags.size() ? Integer.parseInt(flags.get(i + 1)) : otherwise;
  }

  private static double maxDiff(List<Double> a, List<Double> b) {
    if (a.size() != b.size() || a.isEmpty()) {
      return Double.POSITIVE_INFINITY;
    }
    double d = 0;
    for (int i = 0; i < a.size(); i++) {
      d = Math.max(d, Math.abs(a.get(i) - b.get(i)));
    }
    return d;
  }

  private static void check(int n, String what, double diff, double tolerance, List<Double> ref, List<Double> got) {
    record(n, diff < tolerance, String.format(Locale.ROOT, "%s: max |diff| %.3g (tolerance %.0g); reference %s,"
        + " got %s", what, diff, tolerance, ref, got));
  }

  private static void fail(int n, String what) {
    record(n, false, what);
  }

  private static void record(int n, boolean ok, String what) {
    failed |= !ok;
    String line = "CHECK " + n + " " + (ok ? "PASS " : "FAIL ") + what;
    System.out.println(line);
    RESULTS.add(line);
  }

}
