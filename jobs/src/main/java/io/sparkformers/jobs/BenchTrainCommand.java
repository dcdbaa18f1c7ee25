package io.sparkformers.jobs;

import ai.djl.engine.Engine;
import io.sparkformers.accelerate.BarrierLauncher;
import io.sparkformers.accelerate.RankContext;
import io.sparkformers.accelerate.RankFunction;
import io.sparkformers.training.ArrayData;
import io.sparkformers.training.Trainer;
import io.sparkformers.training.TrainerCallback;
import io.sparkformers.training.TrainerControl;
import io.sparkformers.training.TrainerState;
import io.sparkformers.training.TrainingArguments;
import io.sparkformers.training.models.AutoConfig;
import io.sparkformers.training.models.AutoModel;
import io.sparkformers.training.models.PreTrainedModel;
import io.sparkformers.training.peft.LoraConfig;
import io.sparkformers.training.peft.PeftModel;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code sparkformers bench train}: training throughput of the Trainer on the shapes of
 * the PyTorch baseline script {@code ddp_train_bench.py} — the MLP 784-512-512-10 (64 rows per rank) and a small
 * GPT (d 256, 4 layers, 4 heads, context 128, vocabulary 8000, 8 × 128 tokens per rank) — on one rank and on
 * two data-parallel ranks (Spark local barrier tasks, TCP all-reduce), with plain SGD at 0.01 as the script.
 * Prints the median step time, samples/s (tokens/s for the GPT) and the share of step time spent waiting on
 * all-reduce. {@code --lora} adds a small Llama (d 256, 4 layers, 4/2 heads, the shape of {@code bench models
 * --model llama}) trained in full and with a LoRA adapter (r 16, alpha 32, q_proj and v_proj), and prints the
 * bytes each all-reduces per step. {@code --overlap on,off} runs the data-parallel configurations with
 * {@code ddp_overlap_backward} on and off, interleaved, and prints how many buckets went on the wire during backward.
 *
 * <p>Ranks of {@code local[N]} are threads of one JVM; each rank's Trainer runs with the launcher's share of the
 * cores as its libtorch intra-op threads ({@code RankContext.intraOpThreads()}: 1 per rank for 2 ranks on
 * 2 cores, as PyTorch DDP's workers; all cores for one rank, as PyTorch's single2).
 */
@Command(name = "train", mixinStandardHelpOptions = true,
    description = "Trainer throughput (MLP samples/s, GPT tokens/s) on one and two data-parallel ranks.")
public final class BenchTrainCommand implements Callable<Integer> {

  @Option(names = "--models", split = ",", description = "mlp, gpt, llama, llama-lora (default: mlp, gpt)")
  List<String> models = List.of("mlp", "gpt");

  @Option(names = "--lora", description = "Run llama (full fine-tuning) and llama-lora (a LoRA adapter on the same"
      + " model) instead of --models, comparing the bytes all-reduced per step and the step time")
  boolean lora;

  @Option(names = "--ranks", split = ",", description = "world sizes to run (default: 1,2)")
  List<Integer> ranks = List.of(1, 2);

  @Option(names = "--repeats", description = "runs of each configuration, interleaved (default: 3)")
  int repeats = 3;

  @Option(names = "--mlp-steps", description = "timed MLP steps per run (default: 150)")
  int mlpSteps = 150;

  @Option(names = "--mlp-warmup", description = "untimed MLP steps first (default: 2000; the JVM compiles the"
      + " step's Java path while it runs: after the script's 20 steps a step is about 25%% slower, after 300"
      + " about 15%%)")
  int mlpWarmup = 2000;

  @Option(names = "--gpt-steps", description = "timed GPT steps per run (default: 6)")
  int gptSteps = 6;

  @Option(names = "--gpt-warmup", description = "untimed GPT steps first (default: 2)")
  int gptWarmup = 2;

  @Option(names = "--threads", description = "libtorch intra-op threads per rank (default: the rank's share of"
      + " the cores; 1 compares with the script's single1, 2 with single2)")
  int threads = 0;

  @Option(names = "--overlap", split = ",", description = "ddp_overlap_backward values to run on more than one rank,"
      + " interleaved (default: the training argument's default; on,off compares both)")
  List<String> overlap = List.of();

  @Option(names = "--bucket-cap-mb", description = "ddp_bucket_cap_mb (default: the training argument's, 25 as"
      + " PyTorch DDP)")
  int bucketCapMb = 0;

  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    if (lora) {
      models = List.of("llama", "llama-lora");
    }
    for (String m : models) {
      if (!List.of("mlp", "gpt", "llama", "llama-lora").contains(m)) {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(),
            "--models: unknown model '" + m + "' (expected mlp, gpt, llama, llama-lora)");
      }
    }
    if (overlap.stream().anyMatch(o -> !o.equals("on") && !o.equals("off"))) {
      throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--overlap takes on and off, got " + overlap);
    }
    if (ranks.isEmpty() || ranks.stream().anyMatch(r -> r < 1) || repeats < 1 || mlpSteps < 1 || gptSteps < 1
        || mlpWarmup < 0 || gptWarmup < 0 || threads < 0) {
      throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--ranks, --repeats, --mlp-steps and"
          + " --gpt-steps must be at least 1; --mlp-warmup, --gpt-warmup and --threads at least 0");
    }
    int slots = ranks.stream().mapToInt(Integer::intValue).max().orElse(1);
    SparkConf conf = new SparkConf().setAppName("sparkformers bench train").setMaster("local[" + slots + "]")
        .set("spark.driver.host", "127.0.0.1").set("spark.driver.bindAddress", "127.0.0.1")
        .set("spark.ui.enabled", "false").set("spark.scheduler.barrier.maxConcurrentTasksCheck.interval", "1s");
    Map<String, List<double[]>> results = new LinkedHashMap<>();
    try (JavaSparkContext sc = new JavaSparkContext(conf)) {
      for (int rep = 0; rep < repeats; rep++) {
        for (String model : models) {
          for (int ws : ranks) {
            int steps = model.equals("mlp") ? mlpSteps : gptSteps;
            int warmup = model.equals("mlp") ? mlpWarmup : gptWarmup;
            List<Boolean> overlaps = ws == 1 || overlap.isEmpty() ? java.util.Collections.singletonList(null)
                : overlap.stream().map("on"::equals).toList();
            for (Boolean o : overlaps) {
              double[] r = BarrierLauncher.run(sc, ws, new Run(model, warmup, steps, threads, o, bucketCapMb));
              String key = model + "/ranks=" + ws + (o == null ? "" : o ? "/overlap" : "/no-overlap");
              results.computeIfAbsent(key, k -> new ArrayList<>()).add(r);
              System.out.println(format(rep, key, model, ws, r));
            }
          }
        }
      }
    }
    System.out.println();
    System.out.println("Medians over " + repeats + " repeats");
    for (Map.Entry<String, List<double[]>> e : results.entrySet()) {
      double[] med = new double[e.getValue().get(0).length];
      for (int i = 0; i < med.length; i++) {
        final int k = i;
        med[i] = median(e.getValue().stream().mapToDouble(a -> a[k]).toArray());
      }
      String[] parts = e.getKey().split("/ranks=");
      System.out.println(format(-1, e.getKey(), parts[0], Integer.parseInt(parts[1].split("/")[0]), med));
    }
    return 0;
  }

  static String format(int rep, String key, String model, int ws, double[] r) {
    double stepMs = r[0] * 1e3;
    boolean tokens = !model.equals("mlp");
    double rows = ws * (tokens ? 8 : 64);
    double samples = rows / r[0];
    return String.format(Locale.ROOT, "%s%-26s step %8.2f ms (fwd+bwd %7.2f, opt+sync %6.2f = copy-out %5.2f"
        + " + all-reduce %5.2f + copy-in %5.2f + update %5.2f)  samples/s %9.1f%s  all-reduce share %5.1f%%"
        + "  threads/rank %d  registered buckets %d/%d  all-reduced %,d bytes/step"
        + "  buckets launched during backward %.1f/step",
        rep >= 0 ? "[rep " + rep + "] " : "", key, stepMs, r[3] * 1e3, r[4] * 1e3, r[5] * 1e3, r[6] * 1e3,
        r[7] * 1e3, (r[4] - r[5] - r[6] - r[7]) * 1e3, samples,
        tokens ? String.format(Locale.ROOT, "  tokens/s %8.0f", samples * 128) : "", r[1] * 100,
        (int) r[2], (int) r[8], (int) r[9], (long) r[10], r[11]);
  }

  static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }

  /** One rank of one run: {median step seconds (max over ranks), all-reduce share, intra-op threads}. */
  static final class Run implements RankFunction<double[]> {
    private static final long serialVersionUID = 1L;
    private final String model;
    private final int warmup;
    private final int steps;
    private final int threads;
    private final Boolean overlap;
    private final int bucketCapMb;

    Run(String model, int warmup, int steps, int threads, Boolean overlap, int bucketCapMb) {
      this.model = model;
      this.warmup = warmup;
      this.steps = steps;
      this.threads = threads;
      this.overlap = overlap;
      this.bucketCapMb = bucketCapMb;
    }

    @Override
    public double[] apply(RankContext ctx) throws Exception {
      Engine.getInstance().setRandomSeed(0);
      String config = switch (model) {
        case "gpt" -> "{\"model_type\": \"gpt2\", \"vocab_size\": 8000, \"n_positions\": 128, \"n_embd\": 256,"
            + " \"n_layer\": 4, \"n_head\": 4, \"activation_function\": \"gelu\", \"resid_pdrop\": 0.0,"
            + " \"embd_pdrop\": 0.0, \"attn_pdrop\": 0.0, \"tie_word_embeddings\": false}";
        case "llama", "llama-lora" -> "{\"model_type\": \"llama\", \"vocab_size\": 8000, \"hidden_size\": 256,"
            + " \"intermediate_size\": 688, \"num_hidden_layers\": 4, \"num_attention_heads\": 4,"
            + " \"num_key_value_heads\": 2, \"max_position_embeddings\": 128}";
        default -> "{\"model_type\": \"mlp\", \"input_size\": 784, \"hidden_sizes\": [512, 512], \"num_labels\": 10}";
      };
      int perRank = model.equals("mlp") ? 64 : 8;
      ArrayData data = data(model, perRank * ctx.worldSize() * 8, 1000);
      List<Long> stepNanos = new ArrayList<>();
      // The trainer's cumulative timings when the warm-up ends: the breakdown covers the timed steps only.
      List<Map<String, Double>> atWarmupEnd = new ArrayList<>();
      Trainer[] self = new Trainer[1];
      PreTrainedModel base = AutoModel.fromConfig(AutoConfig.fromJson(config, "bench " + model));
      try (PreTrainedModel m = !model.equals("llama-lora") ? base : PeftModel.inject(base,
          LoraConfig.builder().r(16).loraAlpha(32).targetModules("q_proj", "v_proj").build())) {
        TrainingArguments.Builder ab = TrainingArguments.builder(Files.createTempDirectory("bench-train").toString())
            .optim("sgd").learningRate(0.01).lrSchedulerType("constant").maxGradNorm(0)
            .perDeviceTrainBatchSize(perRank).maxSteps(warmup + steps).loggingSteps(1_000_000)
            .saveStrategy("no").disableTqdm(true);
        if (overlap != null) {
          ab.ddpOverlapBackward(overlap);
        }
        if (bucketCapMb > 0) {
          ab.ddpBucketCapMb(bucketCapMb);
        }
        TrainingArguments args = ab.build();
        Trainer trainer = Trainer.builder(m, args).trainData(data).shuffle(false)
            .rankContext(ctx)
            .intraOpThreads(threads > 0 ? threads : ctx.intraOpThreads())
            .callback(new TrainerCallback() {
              long begin;

              @Override
              public void onStepBegin(TrainingArguments a, TrainerState s, TrainerControl c) {
                begin = System.nanoTime();
              }

              @Override
              public void onStepEnd(TrainingArguments a, TrainerState s, TrainerControl c) {
                if (s.globalStep() > warmup) {
                  stepNanos.add(System.nanoTime() - begin);
                } else if (s.globalStep() == warmup) {
                  atWarmupEnd.add(self[0].timings());
                }
              }
            })
            .build();
        self[0] = trainer;
        trainer.train();
        double[] secs = stepNanos.stream().mapToDouble(n -> n / 1e9).toArray();
        Map<String, Double> t = new LinkedHashMap<>(trainer.timings());
        if (!atWarmupEnd.isEmpty()) {
          atWarmupEnd.get(0).forEach((k, v) -> t.merge(k, -v, Double::sum));
        }
        double perStep = 1.0 / (atWarmupEnd.isEmpty() ? warmup + steps : steps);
        // Launches during backward over every step: the first step never overlaps (its gradients bind then).
        double overlapped = (double) trainer.bucketsLaunchedDuringBackward() / Math.max(1, warmup + steps - 1);
        return new double[] {median(secs), trainer.allReduceShare(), threads > 0 ? threads : ctx.intraOpThreads(),
            t.get("forward_backward") * perStep, t.get("optimizer") * perStep, t.get("copy_out") * perStep,
            t.get("all_reduce") * perStep, t.get("copy_in") * perStep, trainer.gradientBuckets()[0],
            trainer.gradientBuckets()[1], trainer.allReducedBytesPerStep(), overlapped};
      }
    }

    static ArrayData data(String model, int rows, long seed) {
      SplittableRandom rng = new SplittableRandom(seed);
      if (!model.equals("mlp")) {
        long[] ids = new long[rows * 128];
        for (int i = 0; i < ids.length; i++) {
          ids[i] = rng.nextInt(8000);
        }
        return ArrayData.builder().longs("input_ids", ids, 128).longs("labels", ids, 128).build();
      }
      float[] x = new float[rows * 784];
      for (int i = 0; i < x.length; i++) {
        x[i] = (float) rng.nextDouble(-2, 2);
      }
      long[] y = new long[rows];
      for (int i = 0; i < rows; i++) {
        y[i] = rng.nextInt(10);
      }
      return ArrayData.builder().floats("features", x, 784).longs("labels", y, 1).build();
    }
  }
}
