package io.sparkformers.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** Runs the benchmark at its smallest (one step, two tokens) to prove it runs; it times nothing here. */
class BenchModelsCommandTest {
  @org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp;

  @Test
  void smallestRunReportsTheReferenceShapes() throws java.io.IOException {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cli = SparkformersCommand.commandLine();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    java.nio.file.Path trace = tmp.resolve("trace.json");
    assertEquals(0, cli.execute("bench", "models", "--steps", "1", "--warmup", "0", "--batch", "1",
        "--prompt-tokens", "2", "--new-tokens", "2", "--json", "--profile", trace.toString()), err.toString());
    JsonObject r = JsonParser.parseString(out.toString().trim()).getAsJsonObject();
    // The same parameter count as ddp_train_bench.py's GPT (nn.TransformerEncoderLayer, untied head).
    assertEquals(7_288_320, r.get("params").getAsLong());
    assertEquals(1, r.get("batch").getAsInt());
    assertTrue(r.get("forward_backward_s").getAsDouble() > 0);
    assertTrue(r.get("generate_tokens_per_s_cache").getAsDouble() > 0);
    assertTrue(r.get("training_forward_cpu_s").getAsDouble() > 0);
    // The profiled step's trace names libtorch's ops, forward and backward: 16 projections (4 per layer) are one
    // mm each forward and two backward (one MmBackward0 node each); the LM head is fused with the loss in
    // training (FusedLinearCrossEntropy), its three products run inside the kernel during forward: 51 mm in all.
    // 24 bmm (2 per layer forward, 4 backward).
    String profiled = java.nio.file.Files.readString(trace);
    assertEquals(51, count(profiled, "\"name\": \"aten::mm\""), "aten::mm in the trace");
    assertEquals(16, count(profiled, "\"name\": \"MmBackward0\""), "MmBackward0 in the trace");
    assertEquals(24, count(profiled, "\"name\": \"aten::bmm\""), "aten::bmm in the trace");

    assertEquals(2, cli.execute("bench", "models", "--prompt-tokens", "100", "--new-tokens", "100"));
    assertTrue(err.toString().contains("prompt + new tokens <= 128"), err.toString());
  }

  @Test
  void llamaRunReportsItsShape() {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cli = SparkformersCommand.commandLine();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    assertEquals(0, cli.execute("bench", "models", "--model", "llama", "--steps", "1", "--warmup", "0", "--batch",
        "1", "--prompt-tokens", "2", "--new-tokens", "2", "--json"), err.toString());
    JsonObject r = JsonParser.parseString(out.toString().trim()).getAsJsonObject();
    // The same parameter count as bench/pytorch/llama_bench.py's model: embeddings and untied head 2 × 8000 ×
    // 256, 4 layers of (q, o 256×256; k, v 256×128; gate, up, down 256×688; two norms), the final norm.
    assertEquals(6_998_272, r.get("params").getAsLong());
    assertEquals("llama d256 L4 H4 KV2 ff688 ctx128 vocab8000", r.get("model").getAsString());
    assertTrue(r.get("generate_tokens_per_s_no_cache").getAsDouble() > 0);
    assertEquals(2, cli.execute("bench", "models", "--model", "mamba"));
    assertTrue(err.toString().contains("--model is gpt2 or llama, got 'mamba'"), err.toString());
  }

  private static int count(String text, String needle) {
    int n = 0;
    for (int i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + 1)) {
      n++;
    }
    return n;
  }
}
