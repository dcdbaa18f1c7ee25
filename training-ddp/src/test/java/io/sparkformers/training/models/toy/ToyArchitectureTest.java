package io.sparkformers.training.models.toy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.sparkformers.training.models.AutoConfig;
import io.sparkformers.training.models.AutoModel;
import io.sparkformers.training.models.ModelConfig;
import io.sparkformers.training.models.PreTrainedModel;
import io.sparkformers.training.models.SafeTensorsWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An architecture from outside the library, known to AutoConfig and AutoModel only through its service line. */
class ToyArchitectureTest {
  private static final String CONFIG = "{\"model_type\":\"toy\",\"input_size\":3,\"hidden_size\":4}";

  @TempDir Path tmp;

  @Test
  void theRegistryListsTheToyBesideTheBuiltIns() {
    assertTrue(AutoConfig.modelTypes().containsAll(Set.of("bert", "gpt2", "mlp", "toy")), AutoConfig.modelTypes()
        .toString());
    assertInstanceOf(ToyConfig.class, AutoConfig.fromJson(CONFIG, "toy.json"));
  }

  @Test
  void buildsSavesAndLoadsThroughAutoModel() throws Exception {
    ModelConfig config = AutoConfig.fromJson(CONFIG, "toy.json");
    Engine.getEngine("PyTorch").setRandomSeed(3);
    Path folder = tmp.resolve("toy");
    try (PreTrainedModel model = AutoModel.fromConfig(config)) {
      assertInstanceOf(ToyModel.class, model);
      assertEquals(List.of("proj.weight", "proj.bias", "block.norm.weight"),
          List.copyOf(model.namedParameters().keySet()));
      assertEquals(List.of("features"), model.inputColumns());
      model.savePretrained(folder);
      try (PreTrainedModel loaded = AutoModel.fromPretrained(folder);
          NDManager batch = loaded.manager().newSubManager()) {
        assertInstanceOf(ToyModel.class, loaded);
        for (String name : model.namedParameters().keySet()) {
          assertArrayEquals(model.namedParameters().get(name).getArray().toFloatArray(),
              loaded.namedParameters().get(name).getArray().toFloatArray(), name);
        }
        NDArray x = batch.create(new float[] {1, -2, 0.5f, 3, 0, -1}, new Shape(2, 3));
        assertArrayEquals(model.forward(Map.of("features", x), false).logits().toFloatArray(),
            loaded.forward(Map.of("features", x), false).logits().toFloatArray());
      }
    }
  }

  @Test
  void checkpointNamesGoThroughTheArchitecturesMapping() throws Exception {
    Path folder = tmp.resolve("renamed");
    Files.createDirectories(folder);
    Files.writeString(folder.resolve("config.json"), CONFIG);
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      Map<String, NDArray> tensors = new LinkedHashMap<>();
      tensors.put("linear.weight", m.arange(12f).reshape(4, 3));
      tensors.put("linear.bias", m.ones(new Shape(4)));
      tensors.put("block.norm.weight", m.full(new Shape(4), 2f));
      SafeTensorsWriter.write(folder.resolve("model.safetensors"), tensors, Map.of("format", "pt"));
    }
    try (PreTrainedModel model = AutoModel.fromPretrained(folder)) {
      assertArrayEquals(new float[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
          model.namedParameters().get("proj.weight").getArray().toFloatArray());
      assertArrayEquals(new float[] {2, 2, 2, 2}, model.namedParameters().get("block.norm.weight").getArray()
          .toFloatArray());
    }
  }

  @Test
  void anUnknownModelTypeListsTheRegisteredOnes() {
    String m = assertThrows(IllegalArgumentException.class,
        () -> AutoConfig.fromJson("{\"model_type\":\"mamba\"}", "config.json")).getMessage();
    assertEquals("config.json: unknown model_type 'mamba', expected one of [bert, gpt2, llama, mistral, mlp, qwen2,"
        + " toy]", m);
    m = assertThrows(IllegalArgumentException.class, () -> AutoConfig.fromJson("{}", "config.json")).getMessage();
    assertEquals("config.json: missing required key 'model_type', expected one of [bert, gpt2, llama, mistral, mlp,"
        + " qwen2, toy]", m);
  }
}
