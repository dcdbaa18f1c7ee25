package io.sparkformers.training.models;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.engine.Engine;
import ai.djl.nn.Parameter;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A seeded fresh model draws the same values in the same order as before the models were module trees: each
 * parameter's name, shape and value hash equal the recorded ones (models/README.md says where they come from).
 */
class SeededInitTest {
  private static final String[] CONFIGS = {
      "{\"model_type\":\"gpt2\",\"vocab_size\":50,\"n_positions\":16,\"n_embd\":8,\"n_layer\":2,\"n_head\":2}",
      "{\"model_type\":\"gpt2\",\"vocab_size\":50,\"n_positions\":16,\"n_embd\":8,\"n_layer\":1,\"n_head\":2,"
          + "\"tie_word_embeddings\":false}",
      "{\"model_type\":\"bert\",\"vocab_size\":40,\"hidden_size\":8,\"num_hidden_layers\":2,"
          + "\"num_attention_heads\":2,\"intermediate_size\":12,\"max_position_embeddings\":16,\"num_labels\":3}",
      "{\"model_type\":\"mlp\",\"input_size\":5,\"hidden_sizes\":[7,6],\"num_labels\":3}"};

  @Test
  void freshParametersEqualTheRecordedFingerprint() throws Exception {
    StringBuilder actual = new StringBuilder();
    for (String json : CONFIGS) {
      Engine.getEngine("PyTorch").setRandomSeed(42);
      try (PreTrainedModel m = AutoModel.fromConfig(AutoConfig.fromJson(json, "config.json"))) {
        for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet()) {
          float[] v = e.getValue().getArray().toFloatArray();
          actual.append(e.getKey()).append(' ').append(e.getValue().getArray().getShape()).append(' ')
              .append(Arrays.hashCode(v)).append('\n');
        }
      }
    }
    assertEquals(Files.readString(TestData.resource("seeded-init-fingerprint.txt")), actual.toString());
  }
}
