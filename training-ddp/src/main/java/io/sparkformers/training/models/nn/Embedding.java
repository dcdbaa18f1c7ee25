package io.sparkformers.training.models.nn;

import ai.djl.ndarray.NDArray;
import io.sparkformers.training.models.internal.Ops;

/** torch's {@code nn.Embedding}: rows of {@code weight} [num_embeddings, dim] picked by int64 ids. */
public final class Embedding extends Module {
  private final Param weight;

  public Embedding(long numEmbeddings, long dim, Init init) {
    this.weight = addParameter("weight", init, numEmbeddings, dim);
  }

  public Param weight() {
    return weight;
  }

  /** {@code ids} are int64. */
  public NDArray forward(NDArray ids) {
    return Ops.embedding(ids, weight.array());
  }
}
