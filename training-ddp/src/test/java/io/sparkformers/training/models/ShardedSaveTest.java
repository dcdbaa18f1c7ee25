package io.sparkformers.training.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.types.DataType;
import io.sparkformers.training.models.gpt2.Gpt2Config;
import io.sparkformers.training.models.internal.ShardPlan;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** savePretrained with a max shard size writes shards and an index as transformers does, and they load back. */
class ShardedSaveTest {
  @TempDir Path tmp;

  @Test
  void splitsAsHuggingfaceHubDoes() {
    // huggingface_hub's own test (tests/test_serialization.py): sizes 6, 10, 30, 2, 2.
    Map<String, Long> sizes = new LinkedHashMap<>();
    sizes.put("layer_1", 6L);
    sizes.put("layer_2", 10L);
    sizes.put("layer_3", 30L);
    sizes.put("layer_4", 2L);
    sizes.put("layer_5", 2L);
    ShardPlan one = ShardPlan.split(sizes, 100);
    assertFalse(one.sharded());
    assertEquals(List.of("model.safetensors"), one.fileNames());
    assertEquals(List.of("layer_1", "layer_2", "layer_3", "layer_4", "layer_5"), one.tensorsIn("model.safetensors"));
    assertEquals(50, one.totalSize());
    ShardPlan four = ShardPlan.split(sizes, 10);
    assertTrue(four.sharded());
    // A tensor over the limit gets its own shard, ahead of the shard being filled.
    assertEquals(List.of("model-00001-of-00004.safetensors", "model-00002-of-00004.safetensors",
        "model-00003-of-00004.safetensors", "model-00004-of-00004.safetensors"), four.fileNames());
    assertEquals(List.of("layer_1"), four.tensorsIn("model-00001-of-00004.safetensors"));
    assertEquals(List.of("layer_3"), four.tensorsIn("model-00002-of-00004.safetensors"));
    assertEquals(List.of("layer_2"), four.tensorsIn("model-00003-of-00004.safetensors"));
    assertEquals(List.of("layer_4", "layer_5"), four.tensorsIn("model-00004-of-00004.safetensors"));
    assertEquals(50, four.totalSize());
  }

  @Test
  void parsesSizesAsTransformersDoes() {
    assertEquals(5_000_000_000L, SaveOptions.parseSize("5GB"));
    assertEquals(200_000_000L, SaveOptions.parseSize("200mb"));
    assertEquals(1_500_000_000L, SaveOptions.parseSize(" 1.5 GB"));
    assertEquals(100_000L, SaveOptions.parseSize("100KB"));
    assertEquals(2_000_000_000_000L, SaveOptions.parseSize("2TB"));
    assertEquals(12345L, SaveOptions.parseSize("12345"));
    assertEquals(SaveOptions.DEFAULT_MAX_SHARD_SIZE, SaveOptions.defaults().maxShardSize());
    assertEquals("max_shard_size '5GiB': unit 'IB' not supported; supported units are TB, GB, MB, KB",
        assertThrows(IllegalArgumentException.class, () -> SaveOptions.parseSize("5GiB")).getMessage());
    assertEquals("max_shard_size 'fiveGB': 'five' is not a number",
        assertThrows(IllegalArgumentException.class, () -> SaveOptions.parseSize("fiveGB")).getMessage());
    assertEquals("max_shard_size must be positive, got 0",
        assertThrows(IllegalArgumentException.class, () -> SaveOptions.builder().maxShardSize(0)).getMessage());
    assertEquals("weights are saved as FLOAT32 or FLOAT16, not float64", assertThrows(IllegalArgumentException.class,
        () -> SaveOptions.builder().floatType(DataType.FLOAT64)).getMessage());
  }

  @Test
  void writesShardsAndIndexThatLoadBackBitExact() throws Exception {
    Engine.getEngine("PyTorch").setRandomSeed(5);
    // Tensor bytes in state-dict order: wte 160, wpe 128, ln_1 16+16, c_attn 192+48, c_proj 64+16, ln_2 16+16,
    // c_fc 256+64, mlp.c_proj 256+16, ln_f 16+16 (1,296 in all).
    Gpt2Config config = Gpt2Config.builder().vocabSize(10).nPositions(8).nEmbd(4).nLayer(1).nHead(2).build();
    Path folder = tmp.resolve("sharded");
    Files.createDirectories(folder);
    Files.writeString(folder.resolve("model-00009-of-00009.safetensors"), "stale shard of an earlier save");
    try (PreTrainedModel model = AutoModel.fromConfig(config)) {
      model.savePretrained(folder, SaveOptions.builder().maxShardSize(200).build());
      List<String> files;
      try (var listing = Files.list(folder)) {
        files = listing.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
      }
      assertEquals(List.of("config.json", "model-00001-of-00007.safetensors", "model-00002-of-00007.safetensors",
          "model-00003-of-00007.safetensors", "model-00004-of-00007.safetensors", "model-00005-of-00007.safetensors",
          "model-00006-of-00007.safetensors", "model-00007-of-00007.safetensors", "model.safetensors.index.json"),
          files);
      String h = "transformer.h.0.";
      Map<String, List<String>> expected = new LinkedHashMap<>();
      expected.put("model-00001-of-00007.safetensors", List.of("transformer.wte.weight"));
      expected.put("model-00002-of-00007.safetensors", List.of("transformer.wpe.weight", h + "ln_1.weight",
          h + "ln_1.bias"));
      expected.put("model-00003-of-00007.safetensors", List.of(h + "attn.c_attn.weight"));
      expected.put("model-00004-of-00007.safetensors", List.of(h + "mlp.c_fc.weight"));
      expected.put("model-00005-of-00007.safetensors", List.of(h + "attn.c_attn.bias", h + "attn.c_proj.weight",
          h + "attn.c_proj.bias", h + "ln_2.weight", h + "ln_2.bias"));
      expected.put("model-00006-of-00007.safetensors", List.of(h + "mlp.c_proj.weight"));
      expected.put("model-00007-of-00007.safetensors", List.of(h + "mlp.c_fc.bias", h + "mlp.c_proj.bias",
          "transformer.ln_f.weight", "transformer.ln_f.bias"));
      StringBuilder index = new StringBuilder("{\n  \"metadata\": {\n    \"total_size\": 1296\n  },\n  \"weight_map\": {");
      Map<String, String> weightMap = new java.util.TreeMap<>();
      for (Map.Entry<String, List<String>> e : expected.entrySet()) {
        try (SafeTensorsFile shard = SafeTensorsFile.open(folder.resolve(e.getKey()))) {
          assertEquals(Map.of("format", "pt"), shard.metadata());
          assertEquals(new java.util.TreeSet<>(e.getValue()), new java.util.TreeSet<>(shard.names()), e.getKey());
        }
        e.getValue().forEach(n -> weightMap.put(n, e.getKey()));
      }
      index.append(weightMap.entrySet().stream().map(e -> "\n    \"" + e.getKey() + "\": \"" + e.getValue() + "\"")
          .collect(Collectors.joining(",")));
      index.append("\n  }\n}\n");
      assertEquals(index.toString(), Files.readString(folder.resolve("model.safetensors.index.json")));

      try (PreTrainedModel loaded = AutoModel.fromPretrained(folder)) {
        assertTrue(loaded.loadReport().source().endsWith("model.safetensors.index.json"),
            loaded.loadReport().source());
        assertSameWeights(model, loaded);
      }

      // Saving unsharded into the same folder leaves one model.safetensors and no index or shards.
      model.savePretrained(folder);
      try (var listing = Files.list(folder)) {
        assertEquals(List.of("config.json", "model.safetensors"),
            listing.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList()));
      }
      // As float16 the sizes halve: total 648, and the shard count follows.
      Path half = tmp.resolve("half");
      model.savePretrained(half, SaveOptions.builder().floatType(DataType.FLOAT16).maxShardSize("300").build());
      String halfIndex = Files.readString(half.resolve("model.safetensors.index.json"));
      assertTrue(halfIndex.startsWith("{\n  \"metadata\": {\n    \"total_size\": 648\n  },"), halfIndex);
      assertTrue(halfIndex.contains("\"transformer.wte.weight\": \"model-00001-of-00003.safetensors\""), halfIndex);
      try (PreTrainedModel loaded = AutoModel.fromPretrained(half)) {
        assertEquals(model.namedParameters().keySet(), loaded.namedParameters().keySet());
      }
    }
  }

  @Test
  void theReferenceCheckpointShardedAtHundredKilobytesLoadsBitExact() throws Exception {
    Path folder = tmp.resolve("gpt2-tiny-sharded");
    try (PreTrainedModel model = AutoModel.fromPretrained(TestData.gpt2Tiny())) {
      model.savePretrained(folder, SaveOptions.builder().maxShardSize("100KB").build());
      assertTrue(Files.exists(folder.resolve("model.safetensors.index.json")));
      assertFalse(Files.exists(folder.resolve("model.safetensors")));
      try (PreTrainedModel loaded = AutoModel.fromPretrained(folder)) {
        assertSameWeights(model, loaded);
      }
    }
  }

  static void assertSameWeights(PreTrainedModel a, PreTrainedModel b) {
    assertEquals(a.namedParameters().keySet(), b.namedParameters().keySet());
    a.namedParameters().forEach((name, p) -> assertArrayEquals(p.getArray().toFloatArray(),
        b.namedParameters().get(name).getArray().toFloatArray(), name));
  }
}
