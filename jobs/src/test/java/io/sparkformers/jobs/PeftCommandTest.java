package io.sparkformers.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkformers.training.models.SafeTensorsFile;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code peft merge} against PEFT's own merged model, and {@code generate}/{@code score} with {@code --adapter}
 * against the same commands over PEFT's merged folder.
 */
class PeftCommandTest {
  @TempDir Path tmp;
  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  private static Path hfTiny(String relative) {
    try {
      return Paths.get(PeftCommandTest.class.getResource("/hf-tiny/" + relative).toURI());
    } catch (URISyntaxException | NullPointerException e) {
      throw new IllegalStateException("missing test resource hf-tiny/" + relative, e);
    }
  }

  private int run(String... args) {
    out.getBuffer().setLength(0);
    err.getBuffer().setLength(0);
    CommandLine cli = SparkformersCommand.commandLine();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    return cli.execute(args);
  }

  @Test
  void mergeWritesPeftsMergedModel() throws Exception {
    Path merged = tmp.resolve("merged");
    assertEquals(0, run("peft", "merge", "--model", hfTiny("llama").toString(), "--adapter",
        hfTiny("lora/adapter_final").toString(), "--output", merged.toString()), err.toString());
    assertTrue(Files.isRegularFile(merged.resolve("config.json")));
    assertTrue(Files.isRegularFile(merged.resolve("generation_config.json")));
    try (SafeTensorsFile ours = SafeTensorsFile.open(merged.resolve("model.safetensors"));
         SafeTensorsFile theirs = SafeTensorsFile.open(hfTiny("lora/merged/model.safetensors"))) {
      assertEquals(new TreeSet<>(theirs.names()), new TreeSet<>(ours.names()));
      double max = 0;
      for (String key : theirs.names()) {
        float[] a = theirs.readFloats(key);
        float[] b = ours.readFloats(key);
        for (int i = 0; i < a.length; i++) {
          max = Math.max(max, Math.abs(a[i] - b[i]));
        }
      }
      assertTrue(max < 1e-6, "merged weights differ from PEFT's by " + max);
    }
  }

  @Test
  void mergeRefusesQuantizedAdapterConfigs() throws Exception {
    Path adapter = tmp.resolve("qlora");
    Files.createDirectories(adapter);
    Files.writeString(adapter.resolve("adapter_config.json"), "{\"peft_type\": \"LORA\", \"load_in_4bit\": true}");
    assertEquals(1, run("peft", "merge", "--model", hfTiny("llama").toString(), "--adapter", adapter.toString(),
        "--output", tmp.resolve("out").toString()));
    assertTrue(err.toString().contains("load_in_4bit: 4-bit/8-bit base weights (QLoRA, bitsandbytes) need "
        + "quantized matmul kernels that DJL's PyTorch engine does not have"), err.toString());
  }

  @Test
  void generateAndScoreWithAnAdapterEqualPeftsMergedModel() throws Exception {
    Path in = tmp.resolve("in.jsonl");
    Files.write(in, List.of("{\"input_ids\": [194, 149, 209, 122, 251]}", "{\"input_ids\": [493, 217, 51]}"));
    assertEquals(0, run("generate", "--model", hfTiny("llama").toString(), "--adapter",
        hfTiny("lora/adapter_final").toString(), "--input", in.toString(), "--max-new-tokens", "8"), err.toString());
    String withAdapter = out.toString();
    assertEquals(0, run("generate", "--model", hfTiny("lora/merged").toString(), "--input", in.toString(),
        "--max-new-tokens", "8"), err.toString());
    assertEquals(out.toString(), withAdapter);

    assertEquals(0, run("score", "--model", hfTiny("llama").toString(), "--adapter",
        hfTiny("lora/adapter_final").toString(), "--input", in.toString()), err.toString());
    String[] ours = out.toString().strip().split("\n");
    assertEquals(0, run("score", "--model", hfTiny("lora/merged").toString(), "--input", in.toString()),
        err.toString());
    String[] theirs = out.toString().strip().split("\n");
    assertEquals(theirs.length, ours.length);
    for (int i = 0; i < ours.length; i++) {
      double a = com.google.gson.JsonParser.parseString(ours[i]).getAsJsonObject().get("mean_cross_entropy")
          .getAsDouble();
      double b = com.google.gson.JsonParser.parseString(theirs[i]).getAsJsonObject().get("mean_cross_entropy")
          .getAsDouble();
      assertEquals(b, a, 1e-5, "line " + i);
    }
    // 4 steps barely move the tiny model's greedy tokens, but its losses do change.
    assertEquals(0, run("score", "--model", hfTiny("llama").toString(), "--input", in.toString()), err.toString());
    String[] base = out.toString().strip().split("\n");
    double baseLoss = com.google.gson.JsonParser.parseString(base[base.length - 1]).getAsJsonObject()
        .get("mean_cross_entropy").getAsDouble();
    double adapterLoss = com.google.gson.JsonParser.parseString(ours[ours.length - 1]).getAsJsonObject()
        .get("mean_cross_entropy").getAsDouble();
    assertTrue(Math.abs(baseLoss - adapterLoss) > 1e-4, "the adapter changes the loss: " + baseLoss);
  }
}
