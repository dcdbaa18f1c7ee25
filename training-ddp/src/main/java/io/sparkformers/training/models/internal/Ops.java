package io.sparkformers.training.models.internal;

import io.sparkformers.training.internal.Autocast;
import io.sparkformers.training.internal.TorchRandom;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.function.BinaryOperator;

/**
 * Tensor arithmetic written to match PyTorch/transformers definitions. Every result is created on the
 * manager of the activation passed first (never on a parameter's manager), so a forward pass leaves nothing
 * behind on the model's manager. No in-place operation touches a tensor that autograd may need.
 */
public final class Ops {
  /** torch.finfo(torch.float32).min, the value transformers puts on masked attention scores. */
  public static final float FLOAT32_MIN = -Float.MAX_VALUE;
  private static final float SQRT_2_OVER_PI = (float) Math.sqrt(2.0 / Math.PI);

  private Ops() {}

  /**
   * torch.nn.functional.linear: x·Wᵀ + b with W stored [out, in] (bias may be null); in bfloat16 or float16 while
   * an {@link Autocast} is entered on this thread, as torch's autocast runs it.
   */
  public static NDArray linear(NDArray x, NDArray weight, NDArray bias) {
    Autocast autocast = Autocast.active();
    if (autocast != null) {
      return autocast.linear(x, weight, bias);
    }
    return x.getNDArrayInternal().linear(x, weight, bias).singletonOrThrow();
  }

  /** torch.matmul; in bfloat16 or float16 while an {@link Autocast} is entered on this thread. */
  public static NDArray matmul(NDArray a, NDArray b) {
    Autocast autocast = Autocast.active();
    if (autocast != null) {
      return autocast.matmul(a, b);
    }
    return a.matMul(b);
  }

  /**
   * transformers' Conv1D: x·W + b with W stored [in, out]. Through linear() over the transposed view of W,
   * DJL's native linear multiplies and then adds the bias in place into the product (the profiler shows mm +
   * add_): one [tokens, out] buffer less per projection than matMul() followed by add(). DJL exposes no
   * addmm, which transformers uses.
   */
  public static NDArray conv1d(NDArray x, NDArray weight, NDArray bias) {
    try (NDArray outIn = weight.transpose()) {
      return linear(x, outIn, bias);
    }
  }

  /**
   * x·s with s a plain number. DJL's own {@code mul(Number)} (and {@code div}, {@code pow}, {@code maximum}) wraps
   * the number in a tensor over a Java direct buffer (from_blob, no copy) and closes it at once; autograd keeps
   * that tensor for the backward pass (a product's other factor, the divisor, the exponent), and once the GC
   * frees the buffer, backward reads whatever reuses the memory: random NaN gradients under Spark's allocation
   * rate. The number here is a tensor libtorch owns ({@code full}), alive as long as autograd needs it.
   */
  public static NDArray mul(NDArray x, double s) {
    return withScalar(x, s, NDArray::mul);
  }

  /** x + s with s a plain number; see {@link #mul(NDArray, double)}. */
  public static NDArray add(NDArray x, double s) {
    return withScalar(x, s, NDArray::add);
  }

  /** x / s with s a plain number; see {@link #mul(NDArray, double)}. */
  public static NDArray div(NDArray x, double s) {
    return withScalar(x, s, NDArray::div);
  }

  /** x ** s with s a plain number; see {@link #mul(NDArray, double)}. */
  public static NDArray pow(NDArray x, double s) {
    return withScalar(x, s, NDArray::pow);
  }

  /** max(x, s) elementwise with s a plain number; see {@link #mul(NDArray, double)}. */
  public static NDArray maximum(NDArray x, double s) {
    return withScalar(x, s, NDArray::maximum);
  }

  /** {@code op(x, s)} with s a 0-dim tensor of x's dtype in libtorch's own memory, on x's manager. */
  private static NDArray withScalar(NDArray x, double s, BinaryOperator<NDArray> op) {
    try (NDArray n = x.getManager().full(new Shape(), (float) s, namedType(x, "a scalar operation"))) {
      return op.apply(x, n);
    }
  }

  /**
   * {@code x}'s dtype, for an operation that passes it to the engine. DJL 0.36 reports a bfloat16 tensor (or any
   * other dtype its JNI cannot name) as UNKNOWN, and its JNI aborts the JVM (a bare C++ {@code throw;}) when such a
   * dtype is passed back: this throws instead, naming {@code op}.
   */
  public static DataType namedType(NDArray x, String op) {
    DataType t = x.getDataType();
    if (t == DataType.UNKNOWN || t == DataType.BFLOAT16) {
      throw new IllegalArgumentException(op + " got a tensor of a dtype DJL's PyTorch engine cannot name (bfloat16"
          + " or another it reports as " + t + "); sparkformers keeps tensors float32 outside its autocast kernels");
    }
    return t;
  }

  /** torch.where(condition, x, other) with broadcasting (DJL's own where() refuses broadcast shapes). */
  public static NDArray where(NDArray condition, NDArray x, NDArray other) {
    return ai.djl.pytorch.jni.JniUtils.where((ai.djl.pytorch.engine.PtNDArray) condition,
        (ai.djl.pytorch.engine.PtNDArray) x, (ai.djl.pytorch.engine.PtNDArray) other);
  }

  public static NDArray layerNorm(NDArray x, NDArray weight, NDArray bias, double eps) {
    return x.getNDArrayInternal()
        .layerNorm(x, new Shape(weight.getShape().get(0)), weight, bias, (float) eps)
        .singletonOrThrow();
  }

  /** torch.nn.functional.embedding: rows of {@code weight} picked by integer {@code ids}. */
  public static NDArray embedding(NDArray ids, NDArray weight) {
    return ids.getNDArrayInternal().embedding(ids, weight, ai.djl.ndarray.types.SparseFormat.DENSE)
        .singletonOrThrow();
  }

  /** torch.nn.functional.dropout; inside a training step the mask is drawn reproducibly ({@link TorchRandom}). */
  public static NDArray dropout(NDArray x, double p, boolean training) {
    if (!training || p <= 0) {
      return x;
    }
    return TorchRandom.draw(() -> x.getNDArrayInternal().dropout(x, (float) p, true).singletonOrThrow());
  }

  /** Activations by their transformers name (ACT2FN). */
  public static NDArray activation(String name, NDArray x) {
    return switch (name) {
      case "gelu_new", "gelu_pytorch_tanh", "gelu_fast" -> geluNew(x);
      case "gelu" -> x.getNDArrayInternal().gelu();
      case "relu" -> x.getNDArrayInternal().relu();
      case "tanh" -> x.tanh();
      case "sigmoid" -> x.getNDArrayInternal().sigmoid();
      case "silu", "swish" -> {
        try (NDArray s = x.getNDArrayInternal().sigmoid()) {
          yield x.mul(s);
        }
      }
      default -> throw new IllegalArgumentException("unknown activation '" + name + "'");
    };
  }

  /** transformers' NewGELUActivation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
  public static NDArray geluNew(NDArray x) {
    // Out of place on purpose: autograd needs tanh's output unchanged for the backward pass.
    NDArray inner = mul(mul(pow(x, 3), 0.044715f).add(x), SQRT_2_OVER_PI);
    return mul(x, 0.5f).mul(inner.tanh().add(1f));
  }

  /**
   * torch.nn.functional.cross_entropy(logits [N, C], labels [N]) with ignore_index −100 and mean reduction over
   * the counted rows (NaN when every row is ignored, as torch gives).
   */
  public static NDArray crossEntropy(NDArray logits, NDArray labels) {
    NDArray labels64 = labels.toType(DataType.INT64, false);
    if (!checkLabels(labels64, logits.getShape().get(1))) {
      // Every row counts: -(sum of the picked log-probabilities) / rows, the same bits as the masked form below
      // (x·1 is x, and the count is exact), in 5 operations instead of 14 — each costs a native call plus an
      // autograd node forward and backward, which is a tenth of a small model's step.
      return logits.logSoftmax(-1).gather(labels64.expandDims(1), 1).mean().neg();
    }
    NDArray counted = labels64.neq(-100);
    NDArray safe = labels64.mul(counted.toType(DataType.INT64, false));
    NDArray logp = logits.logSoftmax(-1);
    NDArray picked = logp.gather(safe.expandDims(1), 1).squeeze(1);
    NDArray countedF = counted.toType(DataType.FLOAT32, false);
    NDArray total = picked.mul(countedF).sum().neg();
    NDArray loss = total.div(countedF.sum());
    return loss;
  }

  /**
   * Whether any label is -100 (torch's ignore_index); a label outside [0, classes) otherwise is refused with its
   * position. Labels live on the host here, so reading them is cheap.
   */
  public static boolean checkLabels(NDArray labels64, long classes) {
    boolean ignored = false;
    long[] ys = labels64.toLongArray();
    for (int i = 0; i < ys.length; i++) {
      if (ys[i] == -100) {
        ignored = true;
      } else if (ys[i] < 0 || ys[i] >= classes) {
        throw new IllegalArgumentException("label " + ys[i] + " at position " + i + " of the batch is outside"
            + " [0, " + classes + ") (the model's classes or vocabulary) and is not the ignored label -100");
      }
    }
    return ignored;
  }

  /** transformers' sequence-classification loss, choosing the problem type as transformers does. */
  public static NDArray classificationLoss(NDArray logits, NDArray labels, int numLabels, String problemType) {
    String type = problemType;
    if (type == null) {
      if (numLabels == 1) {
        type = "regression";
      } else if (labels.getDataType() == DataType.INT64 || labels.getDataType() == DataType.INT32) {
        type = "single_label_classification";
      } else {
        type = "multi_label_classification";
      }
    }
    switch (type) {
      case "regression" -> {
        NDArray l = labels.toType(DataType.FLOAT32, false);
        NDArray pred = numLabels == 1 ? logits.squeeze() : logits;
        NDArray target = numLabels == 1 ? l.squeeze() : l;
        NDArray diff = pred.sub(target);
        return diff.mul(diff).mean();
      }
      case "single_label_classification" -> {
        return crossEntropy(logits.reshape(-1, numLabels), labels.reshape(-1));
      }
      case "multi_label_classification" -> {
        // BCEWithLogits, the numerically stable form torch uses: max(x,0) − x·y + log(1 + exp(−|x|)).
        NDArray y = labels.toType(DataType.FLOAT32, false);
        NDArray softplus = logits.abs().neg().exp().add(1f).log();
        return maximum(logits, 0).sub(logits.mul(y)).add(softplus).mean();
      }
      default -> throw new IllegalArgumentException("unknown problem_type '" + problemType + "'");
    }
  }
}
