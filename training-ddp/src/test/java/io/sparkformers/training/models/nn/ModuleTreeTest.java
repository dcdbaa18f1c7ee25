package io.sparkformers.training.models.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import io.sparkformers.training.models.AutoModel;
import io.sparkformers.training.models.BaseModel;
import io.sparkformers.training.models.PreTrainedModel;
import io.sparkformers.training.models.gpt2.Gpt2Config;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ModuleTreeTest {
  private static final Gpt2Config UNTIED = Gpt2Config.builder().vocabSize(20).nPositions(8).nEmbd(4).nLayer(1)
      .nHead(2).tieWordEmbeddings(false).build();

  @Test
  void parameterNamesArePathsInTransformersOrder() {
    try (PreTrainedModel model = AutoModel.fromConfig(UNTIED)) {
      String h = "transformer.h.0.";
      assertEquals(List.of("transformer.wte.weight", "transformer.wpe.weight", h + "ln_1.weight", h + "ln_1.bias",
          h + "attn.c_attn.weight", h + "attn.c_attn.bias", h + "attn.c_proj.weight", h + "attn.c_proj.bias",
          h + "ln_2.weight", h + "ln_2.bias", h + "mlp.c_fc.weight", h + "mlp.c_fc.bias", h + "mlp.c_proj.weight",
          h + "mlp.c_proj.bias", "transformer.ln_f.weight", "transformer.ln_f.bias", "lm_head.weight"),
          List.copyOf(model.namedParameters().keySet()));
      assertEquals("transformer.h.0.attn.c_attn.weight",
          model.namedParameters().get("transformer.h.0.attn.c_attn.weight").getName());
    }
  }

  @Test
  void namedModulesWalksTheTreeParentsFirst() {
    try (PreTrainedModel model = AutoModel.fromConfig(UNTIED)) {
      Map<String, Module> modules = ((BaseModel) model).namedModules();
      assertEquals(List.of("", "transformer", "transformer.wte", "transformer.wpe", "transformer.h",
          "transformer.h.0", "transformer.h.0.ln_1", "transformer.h.0.attn", "transformer.h.0.attn.c_attn",
          "transformer.h.0.attn.c_proj", "transformer.h.0.ln_2", "transformer.h.0.mlp", "transformer.h.0.mlp.c_fc",
          "transformer.h.0.mlp.c_proj", "transformer.ln_f", "lm_head"), List.copyOf(modules.keySet()));
      assertInstanceOf(Embedding.class, modules.get("transformer.wte"));
      assertInstanceOf(Conv1D.class, modules.get("transformer.h.0.attn.c_attn"));
      assertInstanceOf(LayerNorm.class, modules.get("transformer.ln_f"));
      assertInstanceOf(Linear.class, modules.get("lm_head"));
      assertEquals(List.of("weight", "bias"), List.copyOf(modules.get("transformer.ln_f").parameters().keySet()));
    }
  }

  @Test
  void frozenParametersLeaveTrainableParametersButStayNamed() {
    try (PreTrainedModel model = AutoModel.fromConfig(UNTIED)) {
      BaseModel tree = (BaseModel) model;
      tree.namedModules().get("transformer").setTrainable(false);
      assertEquals(List.of("lm_head.weight"), List.copyOf(model.trainableParameters().keySet()));
      assertEquals(17, model.namedParameters().size());
      assertFalse(model.namedParameters().get("transformer.wte.weight").requiresGradient());
      assertFalse(model.namedParameters().get("transformer.wte.weight").getArray().hasGradient());
      assertTrue(model.namedParameters().get("lm_head.weight").getArray().hasGradient());
      tree.namedModules().get("transformer.ln_f").setTrainable(true);
      assertEquals(List.of("transformer.ln_f.weight", "transformer.ln_f.bias", "lm_head.weight"),
          List.copyOf(model.trainableParameters().keySet()));
    }
  }

  /** A module frozen before its tensors exist creates them without gradients. */
  @Test
  void declaredThenCreated() {
    Linear linear = new Linear(3, 2, Init.ones(), null);
    assertEquals(List.of("weight"), List.copyOf(linear.declaredParameters().keySet()));
    assertEquals(List.of(2L, 3L), java.util.Arrays.stream(linear.weight().shape().getShape()).boxed().toList());
    assertThrows(IllegalStateException.class, linear::namedParameters);
    linear.setTrainable(false);
    try (NDManager m = NDManager.newBaseManager("PyTorch")) {
      linear.createParameters(m, Map.of());
      assertTrue(linear.trainableParameters().isEmpty());
      assertFalse(linear.weight().array().hasGradient());
      assertEquals(6f, linear.weight().array().sum().getFloat());
    }
  }

  @Test
  void namesAreCheckedWhenDeclared() {
    class Bad extends Module {
      Bad(String first, String second) {
        addModule(first, new LayerNorm(2, 1e-5));
        addParameter(second, Init.zeros(), 2);
      }
    }
    assertThrows(IllegalArgumentException.class, () -> new Bad("a.b", "w"));
    assertThrows(IllegalArgumentException.class, () -> new Bad("x", "x"));
  }
  @Test
  void anAttachedAdapterAddsNamedChildrenAndChangesTheOutputUntilDetached() {
    try (PreTrainedModel model = AutoModel.fromConfig(UNTIED)) {
      BaseModel tree = (BaseModel) model;
      Linear head = (Linear) tree.namedModules().get("lm_head");
      Linear extra = new Linear(4, 20, Init.ones(), null);
      LinearAdapter plusExtra = new LinearAdapter() {
        @Override
        public Map<String, Module> modules() {
          return Map.of("extra", extra);
        }

        @Override
        public ai.djl.ndarray.NDArray forward(ai.djl.ndarray.NDArray x, ai.djl.ndarray.NDArray baseOutput) {
          return baseOutput.add(extra.forward(x));
        }
      };
      head.attachAdapter(plusExtra);
      extra.createParameters(tree.manager(), Map.of(), "lm_head.extra");
      assertEquals("lm_head.extra.weight", model.namedParameters().get("lm_head.extra.weight").getName());
      assertThrows(IllegalStateException.class, () -> head.attachAdapter(plusExtra));
      try (NDManager scope = tree.manager().newSubManager()) {
        ai.djl.ndarray.NDArray x = scope.ones(new ai.djl.ndarray.types.Shape(1, 4));
        float[] plain = x.matMul(head.weight().array().transpose()).toFloatArray();
        float[] adapted = head.forward(x).toFloatArray();
        for (int i = 0; i < plain.length; i++) {
          assertEquals(plain[i] + 4f, adapted[i], 1e-5f);
        }
        head.detachAdapter();
        assertFalse(model.namedParameters().containsKey("lm_head.extra.weight"));
        assertEquals(0f, head.forward(x).sub(x.matMul(head.weight().array().transpose())).abs().max().getFloat());
      }
    }
  }
}
