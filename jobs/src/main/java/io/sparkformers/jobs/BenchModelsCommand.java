package io.sparkformers.jobs;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import io.sparkformers.training.models.AutoModel;
import io.sparkformers.training.models.CausalLM;
import io.sparkformers.training.models.GenerationConfig;
import io.sparkformers.training.models.ModelOutput;
import io.sparkformers.training.models.gpt2.Gpt2Config;
import io.sparkformers.training.models.gpt2.Gpt2LMHeadModel;
import io.sparkformers.training.models.llama.LlamaConfig;
import io.sparkformers.training.models.llama.LlamaForCausalLM;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code sparkformers bench models}: forward and forward+backward step time of a small GPT (the shapes of
 * The PyTorch baseline script ddp_train_bench.py's "gpt": d 256, 4 layers, 4 heads, d_ff 1024, context 128, vocab
 * 8000, untied head, exact GELU, dropout 0, batch 8) on {@link Gpt2LMHeadModel}, and greedy generation tokens/s
 * with and without the key/value cache. Medians over the timed steps. {@code --model llama} measures a small
 * Llama ({@link LlamaForCausalLM}: hidden 256, 4 layers, 4 heads, 2 key/value heads, intermediate 688, vocab
 * 8000, untied head, as bench/pytorch/llama_bench.py builds it) or, with {@code --llama-shape 1b}, the Llama 1B
 * shape (hidden 2048, 16 layers, 32 heads, 8 key/value heads, intermediate 8192, vocab 32000, tied embeddings).
 */
@Command(name = "models", mixinStandardHelpOptions = true,
    description = {"Small-GPT forward / forward+backward step time and generation tokens/s (with and without"
        + " the KV cache).", "Compare with PyTorch's baseline script: python3 ddp_train_bench.py --models"
        + " gpt --modes single1,single2; for --model llama: python3 bench/pytorch/llama_bench.py"})
public final class BenchModelsCommand implements Callable<Integer> {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--model", defaultValue = "gpt2", description = "gpt2 (default) or llama.")
  String modelName;

  @Option(names = "--llama-shape", defaultValue = "small", description = "With --model llama: small (default;"
      + " hidden 256, 4 layers, 4/2 heads, vocab 8000) or 1b (hidden 2048, 16 layers, 32/8 heads, intermediate"
      + " 8192, vocab 32000, tied; about 1.2 billion parameters: minutes per step on a CPU).")
  String llamaShape;

  @Option(names = "--threads", defaultValue = "1", description = "libtorch intra-op threads (default 1).")
  int threads;

  @Option(names = "--steps", defaultValue = "10", description = "Timed training steps (default 10).")
  int steps;

  @Option(names = "--warmup", defaultValue = "3", description = "Untimed steps first (default 3).")
  int warmup;

  @Option(names = "--batch", defaultValue = "8", description = "Sequences per step (default 8).")
  int batch;

  @Option(names = "--prompt-tokens", defaultValue = "16", description = "Generation prompt length (default 16).")
  int promptTokens;

  @Option(names = "--new-tokens", defaultValue = "64", description = "Tokens generated per run (default 64).")
  int newTokens;

  @Option(names = "--generate-batch", defaultValue = "1", description = "Prompts generated together (default 1).")
  int generateBatch;

  @Option(names = "--json", description = "Print one JSON object instead of a table.")
  boolean json;

  @Option(names = "--profile", paramLabel = "FILE", description = "Also record one more forward+backward step"
      + " with libtorch's profiler and write its Chrome trace (per-op times, backward ops included) to FILE.")
  java.nio.file.Path profile;

  @Override
  public Integer call() {
    if (threads < 1 || steps < 1 || warmup < 0 || batch < 1 || promptTokens < 1 || newTokens < 1
        || generateBatch < 1 || promptTokens + newTokens > 128) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--threads, --steps, --batch, --prompt-tokens,"
          + " --new-tokens and --generate-batch must be positive, --warmup >= 0, and prompt + new tokens <= 128");
    }
    if (!modelName.equals("gpt2") && !modelName.equals("llama")) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--model is gpt2 or llama, got '" + modelName
          + "'");
    }
    if (!llamaShape.equals("small") && !llamaShape.equals("1b")) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--llama-shape is small or 1b, got '"
          + llamaShape + "'");
    }
    Engine.getEngine("PyTorch").setRandomSeed(1234);
    JniUtils.setNumThreads(threads);
    String description;
    io.sparkformers.training.models.ModelConfig config;
    if (modelName.equals("gpt2")) {
      description = "gpt d256 L4 H4 ff1024 ctx128 vocab8000";
      config = Gpt2Config.builder().vocabSize(8000).nPositions(128).nEmbd(256).nLayer(4).nHead(4)
          .nInner(1024).activationFunction("gelu").tieWordEmbeddings(false).dropout(0).build();
    } else if (llamaShape.equals("small")) {
      description = "llama d256 L4 H4 KV2 ff688 ctx128 vocab8000";
      config = LlamaConfig.builder().vocabSize(8000).hiddenSize(256).intermediateSize(688).numHiddenLayers(4)
          .numAttentionHeads(4).numKeyValueHeads(2).maxPositionEmbeddings(128).build();
    } else {
      description = "llama-1b d2048 L16 H32 KV8 ff8192 ctx128 vocab32000 tied";
      config = LlamaConfig.builder().vocabSize(32000).hiddenSize(2048).intermediateSize(8192).numHiddenLayers(16)
          .numAttentionHeads(32).numKeyValueHeads(8).maxPositionEmbeddings(2048).tieWordEmbeddings(true).build();
    }
    PrintWriter out = spec.commandLine().getOut();
    try (CausalLM model = (CausalLM) AutoModel.fromConfig(config)) {
      int vocab = model.vocabSize();
      long params = 0;
      for (Parameter p : model.namedParameters().values()) {
        params += p.getArray().size();
      }
      Random random = new Random(1000);
      double[] forward = new double[steps];
      double[] forwardBackward = new double[steps];
      double[] trainingForward = new double[steps];
      double[] forwardBackwardCpu = new double[steps];
      double[] trainingForwardCpu = new double[steps];
      double[] faults = new double[steps];
      java.lang.management.ThreadMXBean cpu = java.lang.management.ManagementFactory.getThreadMXBean();
      boolean gradBefore = JniUtils.isGradMode();
      try {
        for (int s = 0; s < warmup + steps; s++) {
          int[] ids = new int[batch * 128];
          for (int i = 0; i < ids.length; i++) {
            ids[i] = random.nextInt(vocab);
          }
          // Forward only (no autograd graph), as inference or evaluation runs it.
          JniUtils.setGradMode(false);
          try (NDManager step = model.manager().newSubManager()) {
            NDArray x = step.create(ids, new Shape(batch, 128));
            long t0 = System.nanoTime();
            ModelOutput o = model.forward(Map.of("input_ids", x, "labels", x), false);
            o.loss().getFloat();
            long t1 = System.nanoTime();
            if (s >= warmup) {
              forward[s - warmup] = (t1 - t0) / 1e9;
            }
          }
          // Zero the gradients, forward with the graph recorded, then backward: a training step without the
          // optimizer, timed as the baseline script times it (its zero_grad() is inside the forward time).
          JniUtils.setGradMode(true);
          try (NDManager step = model.manager().newSubManager()) {
            NDArray x = step.create(ids, new Shape(batch, 128));
            long f0 = minorFaults();
            long c0 = cpu.getCurrentThreadCpuTime();
            long t0 = System.nanoTime();
            for (Parameter p : model.namedParameters().values()) {
              JniUtils.zeroGrad((PtNDArray) p.getArray());
            }
            ModelOutput o = model.forward(Map.of("input_ids", x, "labels", x), true);
            o.loss().getFloat();
            long tf = System.nanoTime();
            long cf = cpu.getCurrentThreadCpuTime();
            JniUtils.backward((PtNDArray) o.loss(), (PtNDArray) step.ones(new Shape()), false, false);
            long t1 = System.nanoTime();
            long c1 = cpu.getCurrentThreadCpuTime();
            long f1 = minorFaults();
            if (s >= warmup) {
              faults[s - warmup] = f1 - f0;
              forwardBackwardCpu[s - warmup] = (c1 - c0) / 1e9;
              trainingForwardCpu[s - warmup] = (cf - c0) / 1e9;
              trainingForward[s - warmup] = (tf - t0) / 1e9;
              forwardBackward[s - warmup] = (t1 - t0) / 1e9;
            }
          }
        }
        if (profile != null) {
          profileOneStep(model, random);
        }
      } finally {
        JniUtils.setGradMode(gradBefore);
      }

      int[][] prompts = new int[generateBatch][promptTokens];
      for (int[] p : prompts) {
        for (int i = 0; i < p.length; i++) {
          p[i] = random.nextInt(vocab);
        }
      }
      GenerationConfig gen = GenerationConfig.builder().maxNewTokens(newTokens).eosTokenIds(List.of()).build();
      double cached = generationTokensPerSecond(model, Arrays.asList(prompts), gen);
      double full = generationTokensPerSecond(model, Arrays.asList(prompts), gen.toBuilder().useCache(false).build());

      double fwd = median(forward);
      double fwdBwd = median(forwardBackward);
      double trainFwd = median(trainingForward);
      double fwdBwdCpu = median(forwardBackwardCpu);
      double trainFwdCpu = median(trainingForwardCpu);
      double faultsPerStep = median(faults);
      if (json) {
        out.println(String.format(Locale.ROOT, "{\"model\": \"" + description + "\", "
            + "\"params\": %d, \"batch\": %d, \"threads\": %d, \"steps\": %d, \"forward_s\": %.6f, "
            + "\"training_forward_s\": %.6f, \"forward_backward_s\": %.6f, \"training_forward_cpu_s\": %.6f, \"forward_backward_cpu_s\": %.6f, \"minor_page_faults_per_step\": %.0f, \"tokens_per_s_train\": %.1f, \"generate_prompt\": %d, "
            + "\"generate_new\": %d, \"generate_batch\": %d, \"generate_tokens_per_s_cache\": %.1f, "
            + "\"generate_tokens_per_s_no_cache\": %.1f}", params, batch, threads, steps, fwd, trainFwd, fwdBwd, trainFwdCpu, fwdBwdCpu, faultsPerStep,
            batch * 128 / fwdBwd, promptTokens, newTokens, generateBatch, cached, full));
      } else {
        out.println(String.format(Locale.ROOT, "%s (%,d parameters), batch %d, %d thread(s), median of %d steps",
            description, params, batch, threads, steps));
        out.println(String.format(Locale.ROOT, "  forward, no grad  %8.1f ms", fwd * 1e3));
        out.println(String.format(Locale.ROOT, "  forward, grad on  %8.1f ms  (zero_grad + forward, as"
            + " ddp_train_bench.py's fwd; %.1f ms CPU time)", trainFwd * 1e3, trainFwdCpu * 1e3));
        out.println(String.format(Locale.ROOT, "  forward+backward  %8.1f ms  (%.0f tokens/s; %.1f ms CPU time of"
            + " this thread, which a busy machine inflates less)", fwdBwd * 1e3, batch * 128 / fwdBwd, fwdBwdCpu * 1e3));
        out.println(String.format(Locale.ROOT, "  minor page faults %8.0f per forward+backward (fresh pages from the"
            + " kernel)", faultsPerStep));
        out.println(String.format(Locale.ROOT, "greedy generation, %d prompt(s) of %d tokens, %d new tokens each:",
            generateBatch, promptTokens, newTokens));
        out.println(String.format(Locale.ROOT, "  with KV cache     %8.1f tokens/s", cached));
        out.println(String.format(Locale.ROOT, "  without cache     %8.1f tokens/s", full));
      }
      out.flush();
    }
    return 0;
  }

  /**
   * The process's minor page faults so far (/proc/self/stat field 10), or -1 where there is no procfs: fresh
   * pages the allocator takes from the kernel, which a step that reuses its memory does not touch.
   */
  static long minorFaults() {
    try {
      String stat = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/self/stat"));
      String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return Long.parseLong(fields[7]);
    } catch (java.io.IOException | RuntimeException e) {
      return -1;
    }
  }

  /** One forward+backward step under libtorch's profiler (records shapes), written as a Chrome trace. */
  private void profileOneStep(CausalLM model, Random random) {
    int[] ids = new int[batch * 128];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = random.nextInt(model.vocabSize());
    }
    JniUtils.setGradMode(true);
    try (NDManager step = model.manager().newSubManager()) {
      NDArray x = step.create(ids, new Shape(batch, 128));
      JniUtils.startProfile(false, true, false);
      try {
        ModelOutput o = model.forward(Map.of("input_ids", x, "labels", x), true);
        JniUtils.backward((PtNDArray) o.loss(), (PtNDArray) step.ones(new Shape()), false, false);
      } finally {
        JniUtils.stopProfile(profile.toAbsolutePath().toString());
      }
    }
    for (Parameter p : model.namedParameters().values()) {
      JniUtils.zeroGrad((PtNDArray) p.getArray());
    }
  }

  /** New tokens per second over one warm-up and three timed runs (median). */
  private static double generationTokensPerSecond(CausalLM model, List<int[]> prompts,
      GenerationConfig gen) {
    model.generate(prompts, gen.toBuilder().maxNewTokens(Math.min(4, gen.maxNewTokens())).build());
    List<Double> rates = new ArrayList<>();
    for (int r = 0; r < 3; r++) {
      long t0 = System.nanoTime();
      List<int[]> out = model.generate(prompts, gen);
      double seconds = (System.nanoTime() - t0) / 1e9;
      int tokens = out.stream().mapToInt(a -> a.length).sum();
      rates.add(tokens / seconds);
    }
    return median(rates.stream().mapToDouble(Double::doubleValue).toArray());
  }

  static double median(double[] xs) {
    double[] s = xs.clone();
    Arrays.sort(s);
    int n = s.length;
    return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  }
}
