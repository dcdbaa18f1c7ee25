package io.sparkformers.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The load bench at its smallest: gpt2-tiny's numbers are reported and consistent; a bad folder is a usage error. */
class BenchLoadCommandTest {
  @TempDir Path tmp;

  @Test
  void reportsTheParametersTheHeapAndGenerationOfAFolder() throws Exception {
    Path model = GenerateCommandTest.tinyModelWithTokenizer(tmp);
    StringWriter out = new StringWriter();
    CommandLine cli = SparkformersCommand.commandLine();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(new StringWriter()));
    assertEquals(0, cli.execute("bench", "load", "--model", model.toString(), "--json", "--new-tokens", "4",
        "--threads", "1"));
    JsonObject r = JsonParser.parseString(out.toString().trim()).getAsJsonObject();
    assertEquals("gpt2", r.get("model_type").getAsString());
    long params = r.get("parameters").getAsLong();
    assertTrue(params > 0);
    assertEquals(params * 4, r.get("float32_bytes").getAsLong());
    assertEquals((double) r.get("peak_heap_bytes").getAsLong() / (params * 4),
        r.get("peak_heap_over_float32").getAsDouble(), 1e-4);
    assertTrue(r.get("generate_tokens_per_second_kv_cache").getAsDouble() > 0);
    assertTrue(r.get("peak_rss_bytes").getAsLong() > 0);

    assertEquals(2, cli.execute("bench", "load", "--model", tmp.resolve("missing").toString()));
    assertEquals(2, cli.execute("bench", "load", "--model", model.toString(), "--threads", "0"));
  }
}
