package io.sparkformers.training.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import io.sparkformers.training.TrainingArguments;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class OptimizerFactoryTest {

  @Test
  void biasesAndNormWeightsGetNoWeightDecay() {
    assertTrue(OptimizerFactory.decays("transformer.h.0.attn.c_attn.weight"));
    assertTrue(OptimizerFactory.decays("model.layers.0.mlp.gate_proj.weight"));
    assertFalse(OptimizerFactory.decays("transformer.h.0.attn.c_attn.bias"));
    assertFalse(OptimizerFactory.decays("transformer.h.0.ln_1.weight"));
    assertFalse(OptimizerFactory.decays("bert.embeddings.LayerNorm.weight"));
    assertFalse(OptimizerFactory.decays("model.layers.3.input_layernorm.weight"));
    assertFalse(OptimizerFactory.decays("model.norm.weight"));
  }

  @Test
  void parameterGroupsKeepTheOrderAndMarkDecay() {
    try (NDManager m = NDManager.newBaseManager()) {
      Map<String, Parameter> named = new LinkedHashMap<>();
      for (String name : List.of("0.weight", "0.bias")) {
        named.put(name, Parameter.builder().setName(name).setType(Parameter.Type.WEIGHT)
            .optArray(m.zeros(new ai.djl.ndarray.types.Shape(2))).build());
      }
      List<Param> groups = OptimizerFactory.parameterGroups(named);
      assertEquals(List.of("0.weight", "0.bias"), groups.stream().map(Param::name).toList());
      assertEquals(List.of(true, false), groups.stream().map(Param::decay).toList());
      TrainingArguments sgd = TrainingArguments.builder("out").optim("sgd")
          .optimArgs("momentum=0.9, nesterov=True").build();
      try (Optimizer o = OptimizerFactory.create(sgd, groups)) {
        assertInstanceOf(Sgd.class, o);
      }
      try (Optimizer o = OptimizerFactory.create(TrainingArguments.builder("out").build(), groups)) {
        assertInstanceOf(AdamW.class, o);
      }
    }
  }

  @Test
  void optimArgsAreParsedAndBadOnesNamed() {
    assertEquals(Map.of("momentum", "0.9", "nesterov", "True"),
        OptimizerFactory.parseOptimArgs("momentum=0.9,nesterov=True"));
    assertEquals("optim_args: unknown SGD argument 'lr' (valid: momentum, dampening, nesterov)",
        assertThrows(IllegalArgumentException.class, () -> OptimizerFactory.parseOptimArgs("lr=1")).getMessage());
    assertEquals("optim_args: expected key=value, got 'momentum'",
        assertThrows(IllegalArgumentException.class, () -> OptimizerFactory.parseOptimArgs("momentum"))
            .getMessage());
    TrainingArguments bad = TrainingArguments.builder("out").optim("sgd").optimArgs("momentum=fast").build();
    assertEquals("optim_args: momentum must be a number, got 'fast'",
        assertThrows(IllegalArgumentException.class, () -> OptimizerFactory.create(bad, List.of())).getMessage());
    TrainingArguments adam = TrainingArguments.builder("out").optimArgs("momentum=0.9").build();
    assertTrue(assertThrows(IllegalArgumentException.class, () -> OptimizerFactory.create(adam, List.of()))
        .getMessage().contains("takes no optim_args"));
  }
}
