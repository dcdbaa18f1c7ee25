package io.sparkformers.training.models.nn;

import ai.djl.ndarray.NDArray;
import java.util.Map;

/**
 * Something added to a {@link LinearLayer} (a LoRA adapter): modules that become the layer's children, and
 * the layer's output computed from its input and the base output.
 */
public interface LinearAdapter {

  /** The modules the layer holds for this adapter, by child name, in declaration order. */
  Map<String, Module> modules();

  /** The layer's output, given its input {@code x} and the frozen base output (x·Wᵀ + b). */
  NDArray forward(NDArray x, NDArray baseOutput);
}
