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
  @Test
  void smallestRunReportsTheReferenceShapes() {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cli = SparkformersCommand.commandLine();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    assertEquals(0, cli.execute("bench", "models", "--steps", "1", "--warmup", "0", "--batch", "1",
        "--prompt-tokens", "2", "--new-tokens", "2", "--json"), err.toString());
    JsonObject r = JsonParser.parseString(out.toString().trim()).getAsJsonObject();
    // The same parameter count as ddp_train_bench.py's GPT (nn.TransformerEncoderLayer, untied head).
    assertEquals(7_288_320, r.get("params").getAsLong());
    assertEquals(1, r.get("batch").getAsInt());
    assertTrue(r.get("forward_backward_s").getAsDouble() > 0);
    assertTrue(r.get("generate_tokens_per_s_cache").getAsDouble() > 0);

    assertEquals(2, cli.execute("bench", "models", "--prompt-tokens", "100", "--new-tokens", "100"));
    assertTrue(err.toString().contains("prompt + new tokens <= 128"), err.toString());
  }
}
