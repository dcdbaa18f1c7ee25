package io.sparkformers.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparkformers.datasets.AutoTokenizer;
import io.sparkformers.datasets.Tokenizer;
import io.sparkformers.datasets.TokenizerTrainer;
import io.sparkformers.training.models.AutoConfig;
import io.sparkformers.training.models.AutoModel;
import io.sparkformers.training.models.PreTrainedModel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code train --config conf/<task>.yaml} end to end for each example config, on tiny data with model folders
 * and tokenizers made here: two data-parallel ranks on embedded local[2] Spark, data loaded and tokenized by
 * Spark jobs, metrics from the evaluate module in metrics.json.
 */
class TrainCommandTest {
  @TempDir Path tmp;

  static final List<String> REVIEWS = List.of("the film was good and the cast was great",
      "a bad plot and a dull cast", "good fun, great music", "dull, slow and bad", "the music was great fun",
      "slow, bad and dull music", "a good film", "a bad film", "great cast", "dull plot", "good and great",
      "bad and dull", "a great film", "a slow film", "good music", "bad music");

  private static Path conf(String name) {
    return Path.of("..", "conf", name);
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> run(Path out, Path config, String... overrides) throws IOException {
    List<String> args = new ArrayList<>(List.of("train", "--config", config.toString()));
    for (String o : overrides) {
      args.add("--set");
      args.add(o);
    }
    args.addAll(List.of("--set", "training_args.output_dir=" + out, "--set", "disable_tqdm=true"));
    assertEquals(0, SparkformersCommand.commandLine().execute(args.toArray(String[]::new)));
    return new ObjectMapper().readValue(out.resolve("metrics.json").toFile(), Map.class);
  }

  private static double number(Map<String, Object> m, String key) {
    assertTrue(m.containsKey(key), key + " missing from " + m.keySet());
    return ((Number) m.get(key)).doubleValue();
  }

  /** A model folder: config.json + model.safetensors from {@code configJson}, and the tokenizer trained here. */
  private Path modelFolder(String name, TokenizerTrainer trainer, String configJson) throws IOException {
    Path folder = tmp.resolve(name);
    trainer.train(REVIEWS, folder);
    int vocab;
    try (Tokenizer t = AutoTokenizer.fromPretrained(folder)) {
      vocab = t.vocabSize();
    }
    try (PreTrainedModel m = AutoModel.fromConfig(AutoConfig.fromJson(configJson.replace("VOCAB",
        Integer.toString(vocab)), name))) {
      m.savePretrained(folder);
    }
    return folder;
  }

  @Test
  void tabularClassificationFromCsvWithStringLabels() throws IOException {
    StringBuilder csv = new StringBuilder("sepal_length,sepal_width,petal_length,petal_width,species\n");
    String[] species = {"setosa", "versicolor", "virginica"};
    for (int i = 0; i < 30; i++) {
      int k = i % 3;
      csv.append(4 + k + i * 0.01).append(',').append(3 - k * 0.2).append(',').append(1 + 2 * k).append(',')
          .append(0.2 + k).append(',').append(species[k]).append('\n');
    }
    Path data = tmp.resolve("iris-like.csv");
    Files.writeString(data, csv);
    Map<String, Object> m = run(tmp.resolve("tab"), conf("tabular-classification.yaml"),
        "data.train_file=" + data, "data.cache_dir=" + tmp.resolve("cache"), "num_train_epochs=2");
    // 30 rows, 6 held out; 24 rows in batches of 16 on 2 ranks: 2 batches, 1 round per epoch.
    assertEquals(24.0, number(m, "train_rows"));
    assertEquals(6.0, number(m, "eval_rows"));
    assertEquals(2.0, number(m, "global_step"));
    double accuracy = number(m, "eval_accuracy");
    assertEquals(0, accuracy * 6 % 1, 1e-9, "accuracy is a count of 6: " + accuracy);
    assertTrue(m.containsKey("eval_f1_macro"));
  }

  @Test
  @SuppressWarnings("unchecked")
  void sequenceClassificationFromAModelFolderWithItsTokenizer() throws IOException {
    Path model = modelFolder("bert", TokenizerTrainer.wordPiece().vocabSize(120).minFrequency(1)
        .modelMaxLength(512).build(), "{\"model_type\": \"bert\", \"vocab_size\": VOCAB, \"hidden_size\": 16,"
        + " \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"intermediate_size\": 32,"
        + " \"max_position_embeddings\": 64, \"num_labels\": 2}");
    StringBuilder train = new StringBuilder();
    for (String r : REVIEWS) {
      String label = r.contains("good") || r.contains("great") ? "positive" : "negative";
      train.append("{\"text\": \"").append(r).append("\", \"label\": \"").append(label).append("\"}\n");
    }
    Path trainFile = tmp.resolve("reviews/train.jsonl");
    Files.createDirectories(trainFile.getParent());
    Files.writeString(trainFile, train);
    Map<String, Object> m = run(tmp.resolve("seq"), conf("sequence-classification.yaml"),
        "model.path=" + model, "data.train_file=" + trainFile, "data.eval_file=" + trainFile,
        "data.max_seq_length=12", "data.cache_dir=" + tmp.resolve("cache"), "num_train_epochs=1",
        "per_device_train_batch_size=4");
    // 16 rows in batches of 4 on 2 ranks: 4 batches, 2 rounds.
    assertEquals(16.0, number(m, "train_rows"));
    assertEquals(16.0, number(m, "eval_rows"));
    assertEquals(2.0, number(m, "global_step"));
    double accuracy = number(m, "eval_accuracy");
    assertEquals(0, accuracy * 16 % 1, 1e-9, "accuracy is a count of 16: " + accuracy);
    assertTrue(number(m, "eval_loss") > 0);
    assertTrue(Files.isRegularFile(tmp.resolve("seq/model/model.safetensors")));
    // String labels are recorded in the saved config as run_glue does, and the folder loads back.
    Map<String, Object> saved = new ObjectMapper().readValue(tmp.resolve("seq/model/config.json").toFile(), Map.class);
    assertEquals(Map.of("0", "negative", "1", "positive"), saved.get("id2label"));
    assertEquals(Map.of("negative", 0, "positive", 1), saved.get("label2id"));
    try (PreTrainedModel reloaded = AutoModel.fromPretrained(tmp.resolve("seq/model"))) {
      assertEquals("bert", reloaded.modelType());
    }
  }

  @Test
  void causalLmGroupsTextsAndReportsPerplexity() throws IOException {
    Path model = modelFolder("gpt2", TokenizerTrainer.byteLevelBpe().vocabSize(300).minFrequency(1).build(),
        "{\"model_type\": \"gpt2\", \"vocab_size\": VOCAB, \"n_positions\": 32, \"n_embd\": 16, \"n_layer\": 1,"
        + " \"n_head\": 2}");
    Path text = tmp.resolve("corpus/train.txt");
    Files.createDirectories(text.getParent());
    Files.writeString(text, String.join("\n", REVIEWS) + "\n");
    int tokens = 0;
    try (Tokenizer t = AutoTokenizer.fromPretrained(model)) {
      for (String r : REVIEWS) {
        tokens += t.encode(r).inputIds().length;
      }
    }
    Map<String, Object> m = run(tmp.resolve("clm"), conf("causal-lm.yaml"), "model.path=" + model,
        "data.train_file=" + text, "data.eval_file=" + text, "data.block_size=8",
        "data.cache_dir=" + tmp.resolve("cache"), "num_train_epochs=1", "per_device_train_batch_size=2");
    int blocks = tokens / 8;
    assertEquals(blocks, number(m, "train_rows"));
    assertEquals(blocks, number(m, "eval_rows"));
    assertEquals(Math.ceil(Math.ceil(blocks / 2.0) / 2.0), number(m, "global_step"));
    double loss = number(m, "eval_loss");
    // run_clm's perplexity is exp(eval_loss); the evaluate module's, from the logits, agrees to float rounding.
    assertEquals(Math.exp(loss), number(m, "perplexity"));
    assertEquals(number(m, "perplexity"), number(m, "eval_perplexity"), 1e-4 * Math.exp(loss));
    // The saved model folder carries its tokenizer: generate takes text prompts from it as it is.
    Path saved = tmp.resolve("clm/model");
    assertTrue(Files.isRegularFile(saved.resolve("tokenizer.json")));
    Path prompts = tmp.resolve("prompts.jsonl");
    Files.writeString(prompts, "{\"prompt\": \"" + REVIEWS.get(0) + "\"}\n");
    assertEquals(0, SparkformersCommand.commandLine().execute("generate", "--model", saved.toString(), "--input",
        prompts.toString(), "--output", tmp.resolve("generated.jsonl").toString(), "--max-new-tokens", "3"));
    assertTrue(Files.readString(tmp.resolve("generated.jsonl")).contains("\"generated_text\""));
  }

  @Test
  void causalLmTrainsALlamaAndItsFolderGeneratesText() throws IOException {
    Path model = modelFolder("llama", TokenizerTrainer.byteLevelBpe().vocabSize(300).minFrequency(1).build(),
        "{\"model_type\": \"llama\", \"vocab_size\": VOCAB, \"hidden_size\": 16, \"intermediate_size\": 32,"
        + " \"num_hidden_layers\": 1, \"num_attention_heads\": 4, \"num_key_value_heads\": 2,"
        + " \"max_position_embeddings\": 32, \"tie_word_embeddings\": true}");
    Path text = tmp.resolve("corpus/llama.txt");
    Files.createDirectories(text.getParent());
    Files.writeString(text, String.join("\n", REVIEWS) + "\n");
    Map<String, Object> m = run(tmp.resolve("llama-out"), conf("causal-lm.yaml"), "model.path=" + model,
        "data.train_file=" + text, "data.eval_file=" + text, "data.block_size=8",
        "data.cache_dir=" + tmp.resolve("cache"), "num_train_epochs=1", "per_device_train_batch_size=2");
    assertTrue(number(m, "train_loss") > 0 && Double.isFinite(number(m, "eval_loss")), m.toString());
    Path saved = tmp.resolve("llama-out/model");
    Path prompts = tmp.resolve("llama-prompts.jsonl");
    Files.writeString(prompts, "{\"prompt\": \"the film\"}\n");
    assertEquals(0, SparkformersCommand.commandLine().execute("generate", "--model", saved.toString(), "--input",
        prompts.toString(), "--output", tmp.resolve("llama-generated.jsonl").toString(), "--max-new-tokens", "3"));
    assertTrue(Files.readString(tmp.resolve("llama-generated.jsonl")).contains("\"generated_ids\""));
  }

  /** A tiny llama folder with a chat template and the reviews as chats (user: review, assistant: verdict). */
  @SuppressWarnings("unchecked")
  private Path[] chatModelAndData(String name) throws IOException {
    Path model = modelFolder(name, TokenizerTrainer.byteLevelBpe().vocabSize(300).minFrequency(1).build(),
        "{\"model_type\": \"llama\", \"vocab_size\": VOCAB, \"hidden_size\": 16, \"intermediate_size\": 32,"
        + " \"num_hidden_layers\": 1, \"num_attention_heads\": 4, \"num_key_value_heads\": 2,"
        + " \"max_position_embeddings\": 64, \"tie_word_embeddings\": true}");
    Path tokenizerConfig = model.resolve("tokenizer_config.json");
    ObjectMapper json = new ObjectMapper();
    Map<String, Object> tc = Files.isRegularFile(tokenizerConfig)
        ? json.readValue(tokenizerConfig.toFile(), Map.class) : new java.util.LinkedHashMap<>();
    tc.put("chat_template", CHAT_TEMPLATE);
    json.writeValue(tokenizerConfig.toFile(), tc);
    StringBuilder chats = new StringBuilder();
    for (String review : REVIEWS) {
      String verdict = review.contains("good") || review.contains("great") ? "good" : "bad";
      chats.append(json.writeValueAsString(Map.of("messages", List.of(Map.of("role", "user", "content", review),
          Map.of("role", "assistant", "content", verdict))))).append('\n');
    }
    Path data = tmp.resolve(name + "-chats.jsonl");
    Files.writeString(data, chats);
    return new Path[] {model, data};
  }

  static final String CHAT_TEMPLATE = "{% for m in messages %}<|{{ m.role }}|> {{ m.content }}\n{% endfor %}"
      + "{% if add_generation_prompt %}<|assistant|> {% endif %}";

  @Test
  @SuppressWarnings("unchecked")
  void sftFineTunesALlamaOnChatsAndItsFolderKeepsTheChatTemplate() throws IOException {
    Path[] md = chatModelAndData("sft-llama");
    Path model = md[0];
    Path data = md[1];
    ObjectMapper json = new ObjectMapper();
    Map<String, Object> m = run(tmp.resolve("sft-out"), conf("sft.yaml"), "model.path=" + model,
        "data.train_file=" + data, "data.eval_file=" + data, "data.max_seq_length=48",
        "data.cache_dir=" + tmp.resolve("cache"), "num_train_epochs=1", "per_device_train_batch_size=2");
    assertTrue(number(m, "train_loss") > 0 && Double.isFinite(number(m, "eval_loss")), m.toString());
    assertEquals(16.0, number(m, "train_rows"));
    Path saved = tmp.resolve("sft-out/model");
    assertTrue(Files.isRegularFile(saved.resolve("model.safetensors")));
    assertEquals(CHAT_TEMPLATE, json.readValue(saved.resolve("tokenizer_config.json").toFile(), Map.class)
        .get("chat_template"));
    try (var s = Files.list(tmp.resolve("sft-out"))) {
      assertTrue(s.anyMatch(p -> p.getFileName().toString().startsWith("checkpoint-")));
    }
  }

  @Test
  void sftLoraTrainsOnlyTheAdapterOnTwoRanksAndItsFolderIsAPeftAdapter() throws Exception {
    Path[] md = chatModelAndData("lora-llama");
    Path model = md[0];
    Path data = md[1];
    // conf/sft-lora.yaml as shipped, on two ranks, with the tiny model and data.
    Map<String, Object> m = run(tmp.resolve("lora-out"), conf("sft-lora.yaml"), "model.path=" + model,
        "data.train_file=" + data, "data.eval_file=" + data, "data.max_seq_length=48",
        "data.cache_dir=" + tmp.resolve("cache"), "num_train_epochs=1", "per_device_train_batch_size=2",
        "peft.r=4", "peft.lora_alpha=8");
    assertTrue(number(m, "train_loss") > 0 && Double.isFinite(number(m, "eval_loss")), m.toString());
    Path adapter = tmp.resolve("lora-out/model");
    assertTrue(Files.isRegularFile(adapter.resolve("adapter_model.safetensors")));
    assertTrue(Files.isRegularFile(adapter.resolve("adapter_config.json")));
    assertTrue(!Files.exists(adapter.resolve("model.safetensors")), "the base weights are not saved");
    try (io.sparkformers.training.models.SafeTensorsFile f = io.sparkformers.training.models.SafeTensorsFile.open(
        adapter.resolve("adapter_model.safetensors"))) {
      // q_proj and v_proj of the one layer: lora_A and lora_B each, PEFT's key names.
      assertEquals(List.of("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
          "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight",
          "base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight",
          "base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight"),
          f.names().stream().sorted().toList());
    }
    // The adapter continues from peft.adapter_path, and a bad peft key is named before Spark starts.
    Path merged = tmp.resolve("lora-merged");
    assertEquals(0, SparkformersCommand.commandLine().execute("peft", "merge", "--model", model.toString(),
        "--adapter", adapter.toString(), "--output", merged.toString()));
    assertTrue(Files.isRegularFile(merged.resolve("model.safetensors")));
    assertEquals(ExitCodes.USAGE, SparkformersCommand.commandLine().execute("train", "--config",
        conf("sft-lora.yaml").toString(), "--set", "model.path=" + model, "--set", "peft.rank=4"));
  }

  @Test
  void listKeysPrintsEveryKeyOfTheOneDefinition() {
    java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
    java.io.PrintStream old = System.out;
    System.setOut(new java.io.PrintStream(bytes, true, java.nio.charset.StandardCharsets.UTF_8));
    try {
      assertEquals(0, SparkformersCommand.commandLine().execute("train", "--list-keys"));
    } finally {
      System.setOut(old);
    }
    String out = bytes.toString(java.nio.charset.StandardCharsets.UTF_8);
    for (io.sparkformers.jobs.train.JobConfig.Key k : io.sparkformers.jobs.train.JobConfig.KEYS) {
      assertTrue(out.contains(k.path() + " "), k.path());
    }
    assertTrue(out.contains("training_args.*"));
  }

  @Test
  void withoutAConfigItIsAUsageError() {
    assertEquals(2, SparkformersCommand.commandLine().execute("train"));
  }

  @Test
  void aMissingDataFileIsNamedAndExitsWithInputMissing() throws IOException {
    Path missing = tmp.resolve("nowhere/train.csv");
    java.io.StringWriter err = new java.io.StringWriter();
    picocli.CommandLine cli = SparkformersCommand.commandLine();
    cli.setErr(new java.io.PrintWriter(err));
    assertEquals(ExitCodes.INPUT_MISSING, cli.execute("train", "--config",
        conf("tabular-classification.yaml").toString(), "--set", "data.train_file=" + missing, "--set",
        "data.use_spark=false", "--set", "training_args.output_dir=" + tmp.resolve("o")));
    assertTrue(err.toString().contains(missing.toString()), err.toString());
    assertTrue(!err.toString().contains("\tat "), err.toString());
  }
}
