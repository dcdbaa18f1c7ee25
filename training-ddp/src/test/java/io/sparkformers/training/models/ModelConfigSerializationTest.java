package io.sparkformers.training.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import io.sparkformers.training.models.bert.BertConfig;
import io.sparkformers.training.models.gpt2.Gpt2Config;
import io.sparkformers.training.models.mlp.MlpConfig;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Configs cross into Spark task functions by Java serialization, with every key they keep. */
class ModelConfigSerializationTest {

  private static ModelConfig roundTrip(ModelConfig config) throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(config);
    }
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      return (ModelConfig) in.readObject();
    }
  }

  @Test
  void builtInConfigsComeBackEqual() throws Exception {
    ModelConfig gpt2 = AutoConfig.fromPretrained(TestData.gpt2Tiny());
    ModelConfig bert = AutoConfig.fromPretrained(TestData.resource("torch-tiny/bert"));
    ModelConfig mlp = MlpConfig.builder().inputSize(3).hiddenSizes(List.of(5)).numLabels(2).build();
    for (ModelConfig c : List.of(gpt2, bert, mlp)) {
      ModelConfig back = roundTrip(c);
      assertEquals(c.getClass(), back.getClass());
      assertEquals(c.toJson(), back.toJson());
    }
    assertInstanceOf(Gpt2Config.class, roundTrip(gpt2));
    assertInstanceOf(BertConfig.class, roundTrip(bert));
    // A key the config class does not interpret travels too.
    assertEquals("cls_index", roundTrip(gpt2).toJson().get("summary_type").getAsString());
  }
}
