package io.sparkformers.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparkformers.jobs.train.JobConfig;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The examples run as shipped: the commands of models/README.md make the example models from the repository's
 * config.json files and data, then every conf/*.yaml trains (two steps) with its own data and models. Paths are
 * the files', resolved from the repository root; the models are made in a temporary copy of models/ and the output
 * goes to a temporary folder, so the working tree is left as it is.
 */
class ExampleConfigsTest {
  private static final Path ROOT = Path.of(System.getProperty("sparkformers.root", "..")).toAbsolutePath().normalize();

  @TempDir Path tmp;

  private int run(List<String> args) {
    CommandLine cli = SparkformersCommand.commandLine();
    StringWriter err = new StringWriter();
    cli.setErr(new PrintWriter(err));
    int code = cli.execute(args.toArray(String[]::new));
    if (code != 0) {
      System.err.println(String.join(" ", args) + " exited " + code + ": " + err);
    }
    return code;
  }

  /** The commands of models/README.md's code block, each argument a path rewritten under {@code models}. */
  private List<List<String>> modelCommands(Path models) throws IOException {
    List<List<String>> out = new ArrayList<>();
    for (String line : Files.readAllLines(ROOT.resolve("models/README.md"))) {
      if (!line.startsWith("./sparkformers ")) {
        continue;
      }
      List<String> args = new ArrayList<>();
      for (String a : line.substring("./sparkformers ".length()).trim().split(" +")) {
        args.add(a.startsWith("models/") ? models.resolve(a.substring("models/".length())).toString()
            : a.startsWith("data/") ? ROOT.resolve(a).toString() : a);
      }
      out.add(args);
    }
    return out;
  }

  private Path makeModels() throws IOException {
    Path models = tmp.resolve("models");
    try (Stream<Path> files = Files.walk(ROOT.resolve("models"))) {
      for (Path f : files.filter(Files::isRegularFile).toList()) {
        String name = f.getFileName().toString();
        if (name.equals("config.json") || name.equals("chat_template.jinja")) {
          Path to = models.resolve(ROOT.resolve("models").relativize(f).toString());
          Files.createDirectories(to.getParent());
          Files.copy(f, to);
        }
      }
    }
    List<List<String>> commands = modelCommands(models);
    assertEquals(6, commands.size(), "models/README.md lists a tokenizer and an init command per model");
    for (List<String> c : commands) {
      assertEquals(0, run(c), String.join(" ", c));
    }
    return models;
  }

  private String local(String location, Path models) {
    if (location.startsWith("classpath:") || Path.of(location).isAbsolute()) {
      return location;
    }
    return location.startsWith("models/") ? models.resolve(location.substring("models/".length())).toString()
        : ROOT.resolve(location).toString();
  }

  @Test
  @SuppressWarnings("unchecked")
  void everyExampleConfigTrainsWithTheDataAndModelsOfTheRepository() throws IOException {
    Path models = makeModels();
    List<Path> configs;
    try (Stream<Path> s = Files.list(ROOT.resolve("conf"))) {
      configs = s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
    }
    assertEquals(List.of("causal-lm.yaml", "quickstart.yaml", "sequence-classification.yaml", "sft-lora.yaml",
        "sft.yaml", "tabular-classification.yaml"), configs.stream().map(p -> p.getFileName().toString()).toList());
    for (Path config : configs) {
      JobConfig job = JobConfig.load(config, List.of());
      String name = config.getFileName().toString().replace(".yaml", "");
      Path out = tmp.resolve("out").resolve(name);
      List<String> args = new ArrayList<>(List.of("train", "--config", config.toString()));
      List<String> sets = new ArrayList<>(List.of("training_args.output_dir=" + out, "max_steps=2",
          "disable_tqdm=true", "data.cache_dir=" + tmp.resolve("cache")));
      if (job.modelPath() != null) {
        sets.add("model.path=" + local(job.modelPath(), models));
      }
      sets.add("data.train_file=" + local(job.trainFiles().get(0), models));
      if (!job.evalFiles().isEmpty()) {
        sets.add("data.eval_file=" + local(job.evalFiles().get(0), models));
      }
      for (String s : sets) {
        args.add("--set");
        args.add(s);
      }
      assertEquals(0, run(args), name);
      Map<String, Object> metrics = new ObjectMapper().readValue(out.resolve("metrics.json").toFile(), Map.class);
      assertEquals(2.0, ((Number) metrics.get("global_step")).doubleValue(), name);
      double evalLoss = ((Number) metrics.get("eval_loss")).doubleValue();
      assertTrue(Double.isFinite(evalLoss) && evalLoss > 0, name + " eval_loss " + evalLoss);
    }
  }

  @Test
  void settingModelConfigReplacesTheFilesModelPathAndTheOtherWayRound() {
    Path config = ROOT.resolve("conf/causal-lm.yaml");
    JobConfig byConfig = JobConfig.parse(readString(config), config.toString(),
        List.of("model.config={model_type: gpt2, vocab_size: 64, n_positions: 32, n_embd: 8, n_layer: 1,"
            + " n_head: 2}", "data.tokenizer=models/tiny-gpt2"));
    assertNull(byConfig.modelPath());
    assertEquals("gpt2", byConfig.modelConfig().get("model_type"));
    JobConfig byPath = JobConfig.parse(readString(ROOT.resolve("conf/quickstart.yaml")), "quickstart.yaml",
        List.of("model.path=/models/mlp"));
    assertEquals("/models/mlp", byPath.modelPath());
    assertNull(byPath.modelConfig());
  }

  private static String readString(Path p) {
    try {
      return Files.readString(p);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
