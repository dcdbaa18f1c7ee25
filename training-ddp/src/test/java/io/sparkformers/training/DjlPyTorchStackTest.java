package io.sparkformers.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.loss.Loss;
import ai.djl.util.Pair;
import org.junit.jupiter.api.Test;

/**
 * Proves the stack on a fresh machine: DJL's PyTorch engine loads offline from the Maven native jar, and one
 * plain SGD step on a small MLP lowers its loss.
 */
class DjlPyTorchStackTest {

  @Test
  void pytorchEngineLoadsOfflineAndOneSgdStepLowersTheLoss() {
    assertEquals("true", System.getProperty("ai.djl.offline"));
    Engine engine = Engine.getEngine("PyTorch");
    assertEquals("PyTorch", engine.getEngineName());
    assertTrue(engine.getVersion().startsWith("2.7.1"), engine.getVersion());
    engine.setRandomSeed(1234);
    // Grad mode is per thread in libtorch, and other tests on this thread may have left it on: the SGD update
    // below is an in-place write to leaf tensors, which torch only allows with recording off.
    boolean gradModeBefore = JniUtils.isGradMode();
    JniUtils.setGradMode(false);

    try (NDManager manager = engine.newBaseManager()) {
      // A learnable task: the label says whether the features sum to a positive number.
      NDArray x = manager.randomNormal(new Shape(64, 8));
      NDArray y = x.sum(new int[] {1}).gt(0).toType(DataType.INT64, false);

      SequentialBlock mlp = new SequentialBlock()
          .add(Linear.builder().setUnits(16).build())
          .add(Activation::relu)
          .add(Linear.builder().setUnits(2).build());
      mlp.initialize(manager, DataType.FLOAT32, x.getShape());
      ParameterStore store = new ParameterStore(manager, false);
      Loss loss = Loss.softmaxCrossEntropyLoss();

      float before;
      try (GradientCollector collector = engine.newGradientCollector()) {
        NDArray l = loss.evaluate(new NDList(y), mlp.forward(store, new NDList(x), true));
        before = l.getFloat();
        collector.backward(l);
      }
      for (Pair<String, Parameter> p : mlp.getParameters()) {
        NDArray w = p.getValue().getArray();
        w.subi(w.getGradient().mul(0.5f));
      }
      float after = loss.evaluate(new NDList(y), mlp.forward(store, new NDList(x), false)).getFloat();

      assertTrue(Float.isFinite(before), "initial loss " + before);
      assertTrue(after < before, "loss went from " + before + " to " + after);
    } finally {
      JniUtils.setGradMode(gradModeBefore);
    }
  }
}
