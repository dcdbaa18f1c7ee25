package io.sparkformers.jobs;

import ai.djl.nn.Parameter;
import ai.djl.pytorch.jni.JniUtils;
import io.sparkformers.accelerate.GompSpinCount;
import io.sparkformers.training.models.AutoModel;
import io.sparkformers.training.models.CausalLM;
import io.sparkformers.training.models.GenerationConfig;
import io.sparkformers.training.models.PreTrainedModel;
import java.io.IOException;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code sparkformers bench load}: what loading a model folder costs (seconds, the Java heap's peak against the
 * float32 size of the weights, the process's peak resident memory) and, for a causal LM, greedy generation with
 * the key/value cache on the loaded weights. The weights go into libtorch through memory-mapped buffers, so the
 * heap should stay far below their size whatever their dtype (F32, F16, BF16).
 */
@Command(name = "load", mixinStandardHelpOptions = true,
    description = "Time a model folder's loading, its peak Java heap and RSS, then greedy tokens/s with the KV"
        + " cache (bench/write_llama_1b_bf16.py writes a 1B-shaped BF16 Llama to try).")
public final class BenchLoadCommand implements Callable<Integer> {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--model", required = true, description = "Model folder (config.json, safetensors weights).")
  Path model;

  @Option(names = "--threads", defaultValue = "2", description = "libtorch intra-op threads (default 2).")
  int threads;

  @Option(names = "--prompt-tokens", defaultValue = "16", description = "Generation prompt length (default 16).")
  int promptTokens;

  @Option(names = "--new-tokens", defaultValue = "16", description = "Tokens generated per run (default 16; 0"
      + " skips generation).")
  int newTokens;

  @Option(names = "--json", description = "Print one JSON object instead of lines.")
  boolean json;

  @Override
  public Integer call() throws IOException {
    if (threads < 1 || promptTokens < 1 || newTokens < 0) {
      throw new CommandLine.ParameterException(spec.commandLine(),
          "--threads and --prompt-tokens must be positive and --new-tokens >= 0");
    }
    if (!Files.isRegularFile(model.resolve("config.json"))) {
      throw new CommandLine.ParameterException(spec.commandLine(), model + " has no config.json");
    }
    GompSpinCount.setIfMissing(); // before libtorch loads, as a training run has it
    ai.djl.engine.Engine.getEngine("PyTorch");
    JniUtils.setNumThreads(threads);
    List<MemoryPoolMXBean> heap = new ArrayList<>();
    for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      if (pool.getType() == MemoryType.HEAP) {
        heap.add(pool);
      }
    }
    System.gc();
    heap.forEach(MemoryPoolMXBean::resetPeakUsage);
    long t0 = System.nanoTime();
    try (PreTrainedModel loaded = AutoModel.fromPretrained(model)) {
      double loadSeconds = (System.nanoTime() - t0) / 1e9;
      long peakHeap = 0;
      for (MemoryPoolMXBean pool : heap) {
        peakHeap += pool.getPeakUsage().getUsed();
      }
      long params = 0;
      for (Parameter p : loaded.namedParameters().values()) {
        params += p.getArray().size();
      }
      double tokensPerSecond = Double.NaN;
      if (newTokens > 0 && loaded instanceof CausalLM lm) {
        int[] prompt = new int[promptTokens];
        Random random = new Random(7);
        for (int i = 0; i < prompt.length; i++) {
          prompt[i] = random.nextInt(lm.vocabSize());
        }
        // No end-of-sequence stop: every run makes the same number of tokens.
        GenerationConfig greedy = GenerationConfig.greedy(newTokens).toBuilder().eosTokenIds(List.of()).build();
        lm.generate(List.of(prompt), greedy.toBuilder().maxNewTokens(1).build());
        long g0 = System.nanoTime();
        int made = lm.generate(List.of(prompt), greedy).get(0).length;
        tokensPerSecond = made / ((System.nanoTime() - g0) / 1e9);
      }
      long float32Bytes = params * 4;
      long peakRss = peakResidentBytes();
      PrintWriter out = spec.commandLine().getOut();
      if (json) {
        out.printf(Locale.ROOT, "{\"model\": \"%s\", \"model_type\": \"%s\", \"parameters\": %d, \"float32_bytes\": %d,"
            + " \"load_seconds\": %.3f, \"peak_heap_bytes\": %d, \"peak_heap_over_float32\": %.4f,"
            + " \"peak_rss_bytes\": %d, \"threads\": %d, \"generate_tokens_per_second_kv_cache\": %s}%n",
            model, loaded.modelType(), params, float32Bytes, loadSeconds, peakHeap, (double) peakHeap / float32Bytes,
            peakRss, threads, Double.isNaN(tokensPerSecond) ? "null" : String.format(Locale.ROOT, "%.2f",
                tokensPerSecond));
      } else {
        out.printf(Locale.ROOT, "%s (%s): %,d parameters, %.2f GB as float32%n", model, loaded.modelType(), params,
            float32Bytes / 1e9);
        out.printf(Locale.ROOT, "load: %.2f s; peak Java heap %.1f MB (%.4f of the float32 size); peak RSS %.2f GB%n",
            loadSeconds, peakHeap / 1e6, (double) peakHeap / float32Bytes, peakRss / 1e9);
        if (!Double.isNaN(tokensPerSecond)) {
          out.printf(Locale.ROOT, "greedy generation with the KV cache: %.2f tokens/s (%d threads, %d prompt tokens)%n",
              tokensPerSecond, threads, promptTokens);
        }
      }
      out.flush();
    }
    return 0;
  }

  /** The process's peak resident set (VmHWM in /proc/self/status), or -1 where there is no procfs. */
  static long peakResidentBytes() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmHWM:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (IOException | RuntimeException e) {
      return -1;
    }
    return -1;
  }
}
