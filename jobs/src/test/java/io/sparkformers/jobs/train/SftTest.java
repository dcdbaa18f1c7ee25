package io.sparkformers.jobs.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.sparkformers.training.models.AutoConfig;
import io.sparkformers.training.models.ModelConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sft data path on a word-level tokenizer written here, so that every token position can be checked by hand:
 * the chat markers are added tokens, words are split at spaces.
 */
class SftTest {
  @TempDir Path tmp;

  /** Ids: the position in this list. */
  static final List<String> VOCAB = List.of("<pad>", "<unk>", "</s>", "<|user|>", "<|assistant|>", "<|end|>",
      "<|system|>", "hi", "there", "hello", "how", "are", "you", "fine", "thanks", "be", "brief");
  static final int PAD = 0, EOS = 2, USER = 3, ASSISTANT = 4, END = 5, SYSTEM = 6, HI = 7, THERE = 8, HELLO = 9,
      HOW = 10, ARE = 11, YOU = 12, FINE = 13, THANKS = 14;
  static final int X = SftExamples.IGNORE;

  /** Writes each role's turn as "<|role|> content <|end|> "; the assistant's turn in a generation block or not. */
  static final String PLAIN_TEMPLATE = "{% for m in messages %}{% if m.role not in ['system', 'user', 'assistant']"
      + " %}{{ raise_exception('unknown role ' + m.role) }}{% endif %}<|{{ m.role }}|> {{ m.content }} <|end|> "
      + "{% endfor %}{% if add_generation_prompt %}<|assistant|> {% endif %}";
  static final String GENERATION_TEMPLATE = "{% for m in messages %}{% if m.role == 'assistant' %}<|assistant|> "
      + "{% generation %}{{ m.content }} <|end|>{% endgeneration %} {% else %}<|{{ m.role }}|> {{ m.content }}"
      + " <|end|> {% endif %}{% endfor %}{% if add_generation_prompt %}<|assistant|> {% endif %}";

  static final String TWO_TURNS = "[{\"role\": \"user\", \"content\": \"hi there\"}, {\"role\": \"assistant\","
      + " \"content\": \"hello\"}, {\"role\": \"user\", \"content\": \"how are you\"}, {\"role\": \"assistant\","
      + " \"content\": \"fine thanks\"}]";

  static final String LLAMA = "{\"model_type\": \"llama\", \"vocab_size\": 17, \"hidden_size\": 8,"
      + " \"intermediate_size\": 16, \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"num_key_value_heads\": 1,"
      + " \"max_position_embeddings\": 128}";

  /** A tokenizer folder: tokenizer.json (WordLevel, whitespace split), tokenizer_config.json with the template. */
  static Path tokenizerFolder(Path folder, String chatTemplate) throws IOException {
    Files.createDirectories(folder);
    ObjectMapper json = new ObjectMapper();
    List<Map<String, Object>> added = new ArrayList<>();
    Map<String, Object> vocab = new java.util.LinkedHashMap<>();
    for (int i = 0; i < VOCAB.size(); i++) {
      vocab.put(VOCAB.get(i), i);
      if (VOCAB.get(i).startsWith("<")) {
        added.add(Map.of("id", i, "content", VOCAB.get(i), "single_word", false, "lstrip", false, "rstrip", false,
            "normalized", false, "special", true));
      }
    }
    Map<String, Object> tokenizer = new java.util.LinkedHashMap<>();
    tokenizer.put("version", "1.0");
    tokenizer.put("truncation", null);
    tokenizer.put("padding", null);
    tokenizer.put("added_tokens", added);
    tokenizer.put("normalizer", null);
    tokenizer.put("pre_tokenizer", Map.of("type", "WhitespaceSplit"));
    tokenizer.put("post_processor", null);
    tokenizer.put("decoder", null);
    tokenizer.put("model", Map.of("type", "WordLevel", "vocab", vocab, "unk_token", "<unk>"));
    json.writeValue(folder.resolve("tokenizer.json").toFile(), tokenizer);
    json.writeValue(folder.resolve("tokenizer_config.json").toFile(), Map.of("eos_token", "</s>", "pad_token",
        "<pad>", "unk_token", "<unk>", "model_max_length", 64, "chat_template", chatTemplate));
    return folder;
  }

  private JobConfig job(Path tokenizer, Path train, String... overrides) {
    List<String> all = new ArrayList<>(List.of(overrides));
    all.add("data.cache_dir=" + tmp.resolve("cache"));
    all.add("data.use_spark=false");
    return JobConfig.parse(String.join("\n", "task: sft", "model: {config: " + LLAMA + "}", "data:",
        "  train_file: " + train, "  eval_file: " + train, "  tokenizer: " + tokenizer,
        "training_args: {output_dir: out}", ""), "sft.yaml", all);
  }

  private Path jsonl(String name, String... lines) throws IOException {
    Path f = tmp.resolve(name);
    Files.writeString(f, String.join("\n", lines) + "\n");
    return f;
  }

  private static ModelConfig llama() {
    return AutoConfig.fromJson(LLAMA, "test");
  }

  private static long[] row(long[] column, int width, int r) {
    return Arrays.copyOfRange(column, r * width, (r + 1) * width);
  }

  private JobData.Prepared prepare(JobConfig job) {
    return JobData.prepare(job, JobConfig.Task.SFT, llama(), null);
  }

  private String prepareError(JobConfig job) {
    return assertThrows(IllegalArgumentException.class, () -> prepare(job)).getMessage();
  }

  /**
   * The hand-checked example. Rendered: "<|user|> hi there <|end|> <|assistant|> hello <|end|> <|user|> how are
   * you <|end|> <|assistant|> fine thanks <|end|> ", 16 tokens; the assistant's are "hello <|end|>" (5, 6) and
   * "fine thanks <|end|>" (13, 14, 15): what each assistant message adds after the generation prompt
   * "<|assistant|> ", and exactly the generation blocks of the other template.
   */
  @Test
  void onlyTheAssistantsTokensAreLabelsWithAndWithoutGenerationBlocks() throws IOException {
    long[] ids = {USER, HI, THERE, END, ASSISTANT, HELLO, END, USER, HOW, ARE, YOU, END, ASSISTANT, FINE, THANKS, END};
    long[] labels = {X, X, X, X, X, HELLO, END, X, X, X, X, X, X, FINE, THANKS, END};
    Path data = jsonl("chat.jsonl", "{\"messages\": " + TWO_TURNS + "}");
    for (String template : List.of(PLAIN_TEMPLATE, GENERATION_TEMPLATE)) {
      Path tok = tokenizerFolder(tmp.resolve("tok" + template.length()), template);
      JobData.Prepared p = prepare(job(tok, data));
      assertEquals(16, p.train().widths().get("input_ids"), template);
      assertArrayEquals(ids, p.train().longColumn("input_ids"), template);
      assertArrayEquals(labels, p.train().longColumn("labels"), template);
      long[] ones = new long[16];
      Arrays.fill(ones, 1);
      assertArrayEquals(ones, p.train().longColumn("attention_mask"));
      // assistant_only_loss: false trains on every token, as TRL's default.
      JobData.Prepared all = prepare(job(tok, data, "data.assistant_only_loss=false"));
      assertArrayEquals(ids, all.train().longColumn("labels"), template);
    }
  }

  /**
   * The llama's loss on the padded rows is the mean next-token loss over exactly the 7 assistant positions
   * (hello, end, fine, thanks, end of the first chat; hi, end of the second), computed here from its logits.
   */
  @Test
  void theModelsLossIsTakenOnTheAssistantsTokensOnly() throws IOException {
    Path tok = tokenizerFolder(tmp.resolve("tok"), PLAIN_TEMPLATE);
    Path data = jsonl("chat.jsonl", "{\"messages\": " + TWO_TURNS + "}",
        "{\"messages\": [{\"role\": \"system\", \"content\": \"be brief\"}, {\"role\": \"assistant\", \"content\":"
            + " \"hi\"}]}");
    TensorColumns t = prepare(job(tok, data)).train();
    int width = t.widths().get("input_ids");
    long[] labels = t.longColumn("labels");
    try (io.sparkformers.training.models.PreTrainedModel model =
        io.sparkformers.training.models.AutoModel.fromConfig(llama());
        ai.djl.ndarray.NDManager m = model.manager().newSubManager()) {
      ai.djl.ndarray.types.Shape shape = new ai.djl.ndarray.types.Shape(2, width);
      io.sparkformers.training.models.ModelOutput out = model.forward(Map.of(
          "input_ids", m.create(t.longColumn("input_ids"), shape),
          "attention_mask", m.create(t.longColumn("attention_mask"), shape),
          "labels", m.create(labels, shape)), false);
      float[] logits = out.logits().toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
      int vocab = VOCAB.size();
      double sum = 0;
      int counted = 0;
      for (int r = 0; r < 2; r++) {
        for (int p = 0; p + 1 < width; p++) {
          long label = labels[r * width + p + 1];
          if (label == X) {
            continue;
          }
          int at = (r * width + p) * vocab;
          double max = Double.NEGATIVE_INFINITY;
          for (int v = 0; v < vocab; v++) {
            max = Math.max(max, logits[at + v]);
          }
          double z = 0;
          for (int v = 0; v < vocab; v++) {
            z += Math.exp(logits[at + v] - max);
          }
          sum += -(logits[at + (int) label] - max - Math.log(z));
          counted++;
        }
      }
      assertEquals(7, counted);
      assertEquals(sum / counted, out.loss().getFloat(), 1e-5);
    }
  }

  /** Token offsets are characters of the rendering, not UTF-8 bytes: text before the assistant moves nothing. */
  @Test
  void nonAsciiTextBeforeTheAssistantKeepsItsLabelsInPlace() throws IOException {
    Path tok = tokenizerFolder(tmp.resolve("tok"), PLAIN_TEMPLATE);
    Path data = jsonl("chat.jsonl", "{\"messages\": [{\"role\": \"user\", \"content\": \"\u00e9t\u00e9 \u00e0 \u4e16\u754c"
        + " \ud83d\ude00\"}, {\"role\": \"assistant\", \"content\": \"hello\"}]}");
    TensorColumns t = prepare(job(tok, data)).train();
    int unk = 1;
    assertArrayEquals(new long[] {USER, unk, unk, unk, unk, END, ASSISTANT, HELLO, END}, t.longColumn("input_ids"));
    assertArrayEquals(new long[] {X, X, X, X, X, X, X, HELLO, END}, t.longColumn("labels"));
  }

  @Test
  void rowsArePaddedToTheLongestWithPadTokensMaskZeroAndNoLabels() throws IOException {
    Path tok = tokenizerFolder(tmp.resolve("tok"), PLAIN_TEMPLATE);
    Path data = jsonl("chat.jsonl", "{\"messages\": " + TWO_TURNS + "}",
        "{\"messages\": [{\"role\": \"system\", \"content\": \"be brief\"}, {\"role\": \"assistant\", \"content\":"
            + " \"hi\"}]}");
    JobData.Prepared p = prepare(job(tok, data));
    TensorColumns t = p.train();
    assertEquals(16, t.widths().get("input_ids"));
    // "<|system|> be brief <|end|> <|assistant|> hi <|end|> ": 7 tokens, then 9 pads.
    assertArrayEquals(new long[] {SYSTEM, 15, 16, END, ASSISTANT, HI, END, PAD, PAD, PAD, PAD, PAD, PAD, PAD, PAD,
        PAD}, row(t.longColumn("input_ids"), 16, 1));
    assertArrayEquals(new long[] {X, X, X, X, X, HI, END, X, X, X, X, X, X, X, X, X},
        row(t.longColumn("labels"), 16, 1));
    assertArrayEquals(new long[] {1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0},
        row(t.longColumn("attention_mask"), 16, 1));
  }

  @Test
  void maxSeqLengthKeepsTheStart() throws IOException {
    Path tok = tokenizerFolder(tmp.resolve("tok"), PLAIN_TEMPLATE);
    Path data = jsonl("chat.jsonl", "{\"messages\": " + TWO_TURNS + "}");
    JobData.Prepared p = prepare(job(tok, data, "data.max_seq_length=7"));
    assertArrayEquals(new long[] {USER, HI, THERE, END, ASSISTANT, HELLO, END}, p.train().longColumn("input_ids"));
    assertArrayEquals(new long[] {X, X, X, X, X, HELLO, END}, p.train().longColumn("labels"));
  }

  @Test
  void promptCompletionMasksThePromptAndAppendsEos() throws IOException {
    Path tok = tokenizerFolder(tmp.resolve("tok"), PLAIN_TEMPLATE);
    Path data = jsonl("pc.jsonl", "{\"prompt\": \"hi there \", \"completion\": \"hello\"}",
        "{\"prompt\": \"how are you \", \"completion\": \"fine thanks</s>\"}");
    TensorColumns t = prepare(job(tok, data)).train();
    assertEquals(6, t.widths().get("input_ids"));
    assertArrayEquals(new long[] {HI, THERE, HELLO, EOS, PAD, PAD, HOW, ARE, YOU, FINE, THANKS, EOS},
        t.longColumn("input_ids"));
    assertArrayEquals(new long[] {X, X, HELLO, EOS, X, X, X, X, X, FINE, THANKS, EOS}, t.longColumn("labels"));
    TensorColumns all = prepare(job(tok, data, "data.completion_only_loss=false")).train();
    assertArrayEquals(new long[] {HI, THERE, HELLO, EOS, X, X}, row(all.longColumn("labels"), 6, 0));
  }

  /** Conversational prompt-completion: the prompt with the generation prompt is masked; no eos is added. */
  @Test
  void conversationalPromptCompletionMasksTheRenderedPrompt() throws IOException {
    Path tok = tokenizerFolder(tmp.resolve("tok"), PLAIN_TEMPLATE);
    Path data = jsonl("cpc.jsonl", "{\"prompt\": [{\"role\": \"user\", \"content\": \"hi there\"}],"
        + " \"completion\": [{\"role\": \"assistant\", \"content\": \"hello\"}]}");
    TensorColumns t = prepare(job(tok, data)).train();
    assertArrayEquals(new long[] {USER, HI, THERE, END, ASSISTANT, HELLO, END}, t.longColumn("input_ids"));
    assertArrayEquals(new long[] {X, X, X, X, X, HELLO, END}, t.longColumn("labels"));
  }

  @Test
  void withoutAnEvalFileTestSizeOfTheRowsIsHeldOut() throws IOException {
    Path tok = tokenizerFolder(tmp.resolve("tok"), PLAIN_TEMPLATE);
    Path data = jsonl("text.jsonl", "{\"text\": \"hi\"}", "{\"text\": \"hi there\"}", "{\"text\": \"hello\"}",
        "{\"text\": \"how are you\"}", "{\"text\": \"fine thanks\"}");
    JobConfig split = JobConfig.parse(String.join("\n", "task: sft", "model: {config: " + LLAMA + "}",
        "data: {train_file: " + data + ", tokenizer: " + tok + ", test_size: 0.2, use_spark: false, cache_dir: "
            + tmp.resolve("cache") + "}", "training_args: {output_dir: out}", ""), "sft.yaml", List.of());
    JobData.Prepared p = prepare(split);
    assertEquals(4, p.train().rows());
    assertEquals(1, p.eval().rows());
  }

  @Test
  void textIsEveryTokenWithEos() throws IOException {
    Path tok = tokenizerFolder(tmp.resolve("tok"), PLAIN_TEMPLATE);
    Path data = jsonl("text.jsonl", "{\"text\": \"hi there\"}");
    TensorColumns t = prepare(job(tok, data)).train();
    assertArrayEquals(new long[] {HI, THERE, EOS}, t.longColumn("input_ids"));
    assertArrayEquals(new long[] {HI, THERE, EOS}, t.longColumn("labels"));
  }

  @Test
  void preTokenizedRowsAreUsedAsTheyAre() throws IOException {
    Path tok = tokenizerFolder(tmp.resolve("tok"), PLAIN_TEMPLATE);
    Path data = jsonl("ids.jsonl", "{\"input_ids\": [7, 8, 9], \"labels\": [-100, -100, 9]}",
        "{\"input_ids\": [10, 11], \"labels\": [10, 11]}");
    TensorColumns t = prepare(job(tok, data)).train();
    assertArrayEquals(new long[] {7, 8, 9, 10, 11, PAD}, t.longColumn("input_ids"));
    assertArrayEquals(new long[] {X, X, 9, 10, 11, X}, t.longColumn("labels"));
    assertArrayEquals(new long[] {1, 1, 1, 1, 1, 0}, t.longColumn("attention_mask"));
    // Without labels, every id is one; no tokenizer is needed.
    Path idsOnly = jsonl("ids-only.jsonl", "{\"input_ids\": [7, 8, 9]}");
    JobConfig noTokenizer = JobConfig.parse(String.join("\n", "task: sft", "model: {config: " + LLAMA + "}",
        "data: {train_file: " + idsOnly + ", eval_file: " + idsOnly + ", use_spark: false, cache_dir: "
            + tmp.resolve("cache") + "}", "training_args: {output_dir: out}", ""), "sft.yaml", List.of());
    assertArrayEquals(new long[] {7, 8, 9}, prepare(noTokenizer).train().longColumn("labels"));
  }

  /** causal_lm takes input_ids as well: no tokenizer, and the ids grouped into blocks as run_clm groups text. */
  @Test
  void causalLmGroupsPreTokenizedInputIds() throws IOException {
    Path ids = jsonl("ids.jsonl", "{\"input_ids\": [7, 8, 9], \"source\": \"a\"}",
        "{\"input_ids\": [10, 11, 12, 13], \"source\": \"b\"}");
    JobConfig lm = JobConfig.parse(String.join("\n", "task: causal_lm", "model: {config: " + LLAMA + "}",
        "data: {train_file: " + ids + ", eval_file: " + ids + ", block_size: 3, use_spark: false, cache_dir: "
            + tmp.resolve("cache") + "}", "training_args: {output_dir: out}", ""), "lm.yaml", List.of());
    JobData.Prepared p = JobData.prepare(lm, JobConfig.Task.CAUSAL_LM, llama(), null);
    // 7 tokens in blocks of 3: two blocks, the last token dropped.
    assertArrayEquals(new long[] {7, 8, 9, 10, 11, 12}, p.train().longColumn("input_ids"));
    assertArrayEquals(new long[] {7, 8, 9, 10, 11, 12}, p.train().longColumn("labels"));
    Path bad = jsonl("bad-ids.jsonl", "{\"input_ids\": [7, 8, 9]}", "{\"input_ids\": [99]}");
    JobConfig badJob = JobConfig.parse(String.join("\n", "task: causal_lm", "model: {config: " + LLAMA + "}",
        "data: {train_file: " + bad + ", eval_file: " + bad + ", block_size: 3, use_spark: false, cache_dir: "
            + tmp.resolve("cache") + "}", "training_args: {output_dir: out}", ""), "lm.yaml", List.of());
    assertEquals(bad + " row 1: token id 99 is not in the model's vocabulary (vocab_size 17)",
        assertThrows(IllegalArgumentException.class,
            () -> JobData.prepare(badJob, JobConfig.Task.CAUSAL_LM, llama(), null)).getMessage());
  }

  @Test
  void badInputsAreNamed() throws IOException {
    Path tok = tokenizerFolder(tmp.resolve("tok"), PLAIN_TEMPLATE);
    Path none = jsonl("none.jsonl", "{\"question\": \"hi\"}");
    assertEquals(none + ": no column for sft: 'messages' (data.messages_column), 'prompt' and 'completion'"
        + " (data.prompt_column, data.completion_column), 'text' (data.text_column) or 'input_ids'; the columns are"
        + " [question (string)]", prepareError(job(tok, none)));
    Path badRole = jsonl("bad-role.jsonl", "{\"messages\": " + TWO_TURNS + "}",
        "{\"messages\": [{\"role\": \"tool\", \"content\": \"hi\"}]}");
    assertEquals(badRole + " row 1: the chat template rejects the conversation: unknown role tool",
        prepareError(job(tok, badRole)));
    Path tooBig = jsonl("too-big.jsonl", "{\"input_ids\": [7, 17]}");
    assertEquals(tooBig + " row 0: token id 17 is not in the model's vocabulary (vocab_size 17)",
        prepareError(job(tok, tooBig)));
    Path uneven = jsonl("uneven.jsonl", "{\"input_ids\": [7, 8], \"labels\": [7]}");
    assertEquals(uneven + " row 0: 1 labels for 2 input_ids", prepareError(job(tok, uneven)));
    // A template whose rendering of a shorter conversation is no prefix of the whole one.
    Path reversed = tokenizerFolder(tmp.resolve("reversed"), "{% for m in messages | reverse %}<|{{ m.role }}|>"
        + " {{ m.content }} <|end|> {% endfor %}");
    Path chat = jsonl("chat.jsonl", "{\"messages\": " + TWO_TURNS + "}");
    assertEquals(chat + " row 0: the chat template renders the conversation up to message 1 (assistant)"
        + " differently from the start of the whole conversation, so the assistant's tokens cannot be told apart;"
        + " give the template {% generation %} blocks or set data.assistant_only_loss: false",
        prepareError(job(reversed, chat)));
    assertEquals("sft.yaml: key 'data.packing': packing is not supported: the models take an attention mask per"
        + " token, not per example, so examples packed into one row would attend to each other; set data.packing:"
        + " false (rows are padded instead)", assertThrows(IllegalArgumentException.class,
            () -> job(tok, chat, "data.packing=true")).getMessage());
  }
}
