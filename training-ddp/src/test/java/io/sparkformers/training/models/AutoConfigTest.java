package io.sparkformers.training.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sparkformers.training.models.bert.BertConfig;
import io.sparkformers.training.models.gpt2.Gpt2Config;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AutoConfigTest {
  @TempDir Path tmp;

  private String error(String json) throws Exception {
    Path file = tmp.resolve("config.json");
    Files.writeString(file, json);
    return assertThrows(IllegalArgumentException.class, () -> AutoConfig.fromPretrained(tmp)).getMessage();
  }

  @Test
  void readsGpt2ConfigAndKeepsUnknownKeys() throws Exception {
    Gpt2Config c = (Gpt2Config) AutoConfig.fromPretrained(TestData.gpt2Tiny());
    assertEquals(1000, c.vocabSize());
    assertEquals(48, c.nEmbd());
    assertEquals(192, c.innerSize());
    assertEquals(1e-5, c.layerNormEpsilon());
    assertEquals(List.of(999), c.eosTokenId());
    assertEquals(null, c.padTokenId());
    c.save(tmp);
    Gpt2Config again = (Gpt2Config) AutoConfig.fromPretrained(tmp);
    assertEquals(c.toJson(), again.toJson());
    assertEquals("cls_index", again.toJson().get("summary_type").getAsString());
    assertEquals("4.40.0", again.toJson().get("transformers_version").getAsString());
  }

  @Test
  void aliasesAsTransformersReadsThem() {
    Gpt2Config c = (Gpt2Config) AutoConfig.fromJson("{\"model_type\":\"gpt2\",\"vocab_size\":10,"
        + "\"hidden_size\":8,\"num_hidden_layers\":1,\"num_attention_heads\":2,\"max_position_embeddings\":16}", "x");
    assertEquals(8, c.nEmbd());
    assertEquals(16, c.nPositions());
  }

  @Test
  void badConfigsAreNamedByFileAndKey() throws Exception {
    String m = error("{\"model_type\":\"mamba\",\"vocab_size\":10}");
    assertTrue(m.contains("config.json") && m.contains("unknown model_type 'mamba'") && m.contains("gpt2"), m);
    m = error("{\"vocab_size\":10}");
    assertTrue(m.contains("missing required key 'model_type'"), m);
    m = error("{\"model_type\":\"gpt2\",\"vocab_size\":10,\"n_layer\":1,\"n_head\":2,\"n_positions\":8}");
    assertTrue(m.contains("config.json") && m.contains("missing required key 'n_embd'"), m);
    m = error("{\"model_type\":\"gpt2\",\"vocab_size\":\"ten\",\"n_embd\":8,\"n_layer\":1,\"n_head\":2,"
        + "\"n_positions\":8}");
    assertTrue(m.contains("key 'vocab_size' must be an integer, found \"ten\""), m);
    m = error("{\"model_type\":\"gpt2\",\"vocab_size\":10,\"n_embd\":9,\"n_layer\":1,\"n_head\":2,"
        + "\"n_positions\":8}");
    assertTrue(m.contains("n_embd 9 is not divisible by n_head 2"), m);
    m = error("{\"model_type\":\"bert\",\"vocab_size\":10,\"hidden_size\":8,\"num_hidden_layers\":1,"
        + "\"num_attention_heads\":2}");
    assertTrue(m.contains("missing required key 'intermediate_size'"), m);
    m = error("{\"model_type\":\"mlp\",\"input_size\":4,\"num_labels\":2,\"hidden_act\":\"swish7\"}");
    assertTrue(m.contains("config.json") && m.contains("hidden_act") && m.contains("swish7"), m);
    m = error("[1,2]");
    assertTrue(m.contains("expected a JSON object"), m);
    Path empty = tmp.resolve("empty");
    Files.createDirectories(empty);
    var e = assertThrows(java.nio.file.NoSuchFileException.class, () -> AutoConfig.fromPretrained(empty));
    assertTrue(e.getMessage().contains("config.json"), e.getMessage());
  }

  @Test
  void bertLabelsComeFromId2label() throws Exception {
    BertConfig c = (BertConfig) AutoConfig.fromPretrained(TestData.resource("torch-tiny/bert"));
    assertEquals(3, c.numLabels());
    assertEquals("neg", c.toJson().getAsJsonObject("id2label").get("0").getAsString());
  }
}
