package io.sparkformers.training.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.JniUtils;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * A backward pass run one model segment at a time, from the loss down, telling a listener after each segment
 * which parameters' gradients are final: what PyTorch DDP learns from its gradient hooks, which DJL does not
 * expose. While a recorder is open on a thread, a model's {@link #cut} at a layer boundary hands the layers
 * above a detached copy of the hidden states that records gradients (a leaf), and remembers both. Backward then
 * runs from the loss to the topmost leaf, then from each cut's original tensor with the leaf's gradient as the
 * incoming gradient, segment by segment. Every operation of the full backward runs once, on the same values; the
 * only change is where a boundary tensor's two incoming gradients (the residual branch and the layer) are
 * summed: in the leaf's gradient instead of autograd's input buffer. A sum of two floats does not depend on their
 * order, so the parameters' gradients are bit-identical to one full backward. A head tied to the token embedding
 * ({@link #tied}) keeps that too.
 *
 * <p>{@link Autograd#backward} runs the segmented pass whenever a recorder with cuts is open on its thread, so a
 * Trainer subclass calling it gets the same gradients. One recorder per thread at a time; not thread-safe.
 */
public final class BackwardSegments implements AutoCloseable {
  private static final ThreadLocal<BackwardSegments> CURRENT = new ThreadLocal<>();

  private final Consumer<List<NDArray>> onFinal;
  private final TorchScriptKernels kernels;
  private final List<Cut> cuts = new ArrayList<>();
  private final List<Tie> ties = new ArrayList<>();
  /** Whether a segmented backward has told the listener that every gradient is final. */
  private boolean ended;

  /** One boundary: the tensor the layers below made, the leaf the layers above used, their parameters. */
  private record Cut(NDArray source, NDArray leaf, List<NDArray> above) {}

  /** A tied parameter and the stand-in its upper use took. */
  private record Tie(NDArray parameter, NDArray standIn) {}

  private BackwardSegments(Consumer<List<NDArray>> onFinal, TorchScriptKernels kernels) {
    this.onFinal = onFinal;
    this.kernels = kernels;
  }

  /** The small TorchScript module a recorder needs, loaded into {@code manager}; load once, open many. */
  public static TorchScriptKernels loadKernels(NDManager manager) {
    return TorchScriptKernels.load(manager, BackwardSegments.class, "backward_segments.pt");
  }

  /**
   * Opens a recorder on this thread until {@link #close()}. {@code onFinal} is called on this thread during the
   * backward pass with the parameter tensors whose gradients no later segment changes, segment by segment from
   * the top, and last with null: every remaining gradient is final. {@code kernels} come from
   * {@link #loadKernels} and stay open while the recorder is.
   */
  public static BackwardSegments open(Consumer<List<NDArray>> onFinal, TorchScriptKernels kernels) {
    if (CURRENT.get() != null) {
      throw new IllegalStateException("a BackwardSegments recorder is already open on this thread");
    }
    BackwardSegments s = new BackwardSegments(onFinal, kernels);
    CURRENT.set(s);
    return s;
  }

  /** The recorder open on this thread, or null. */
  static BackwardSegments current() {
    return CURRENT.get();
  }

  /**
   * A segment boundary in a forward pass: {@code x} is the input of the layers that use {@code above}'s trainable
   * parameters, and no other layer (above or below) uses them. Returns {@code x} itself unless a recorder is open
   * on this thread and gradients are recorded; then a leaf over the same memory that records gradients.
   */
  public static NDArray cut(NDArray x, Supplier<? extends Collection<Parameter>> above) {
    BackwardSegments s = CURRENT.get();
    if (s == null || !Autograd.isEnabled()) {
      return x;
    }
    List<NDArray> params = new ArrayList<>();
    for (Parameter p : above.get()) {
      params.add(p.getArray());
    }
    // Where x records no gradient (an embedding that is frozen), nothing below can receive one through it: the
    // boundary still says which parameters become final, and the layers above keep x as it is.
    NDArray leaf = null;
    if (s.requiresGrad(x)) {
      leaf = x.stopGradient();
      leaf.setRequiresGradient(true);
    }
    s.cuts.add(new Cut(x, leaf, params));
    return leaf != null ? leaf : x;
  }

  private boolean requiresGrad(NDArray x) {
    return kernels.test("requires_grad", IValue.from((PtNDArray) x));
  }

  /**
   * A parameter the layers above the lowest cut use and the lowest segment uses too (a language-model head tied to
   * the token embedding): returns {@code parameter} itself unless a recorder is open and the parameter records
   * gradients; then a stand-in over the same memory for the upper use, whose gradient reaches the parameter in
   * the lowest segment's backward, together with the lower use's (see {@link #backward}).
   */
  public static NDArray tied(NDArray parameter) {
    BackwardSegments s = CURRENT.get();
    if (s == null || !Autograd.isEnabled() || !parameter.hasGradient()) {
      return parameter;
    }
    NDArray standIn = parameter.stopGradient();
    standIn.setRequiresGradient(true);
    s.ties.add(new Tie(parameter, standIn));
    return standIn;
  }

  /** Whether the forward pass cut any boundary or tied any parameter (else a plain backward is exactly right). */
  boolean hasCuts() {
    return !cuts.isEmpty() || !ties.isEmpty();
  }

  /**
   * {@code loss.backward(gradient)}, one segment at a time (see the class comment), calling the listener after
   * each. The cuts are used up: a second forward pass records new ones.
   */
  void backward(NDArray loss, NDArray gradient) {
    List<Cut> todo = new ArrayList<>(cuts);
    List<Tie> ties = new ArrayList<>(this.ties);
    cuts.clear();
    this.ties.clear();
    // A loss over several forward passes (a custom computeLoss) cuts each layer once per pass: a layer is then
    // final only when the lowest pass has run, so nothing is reported before the end. The gradients stay exact.
    Set<NDArray> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    boolean report = todo.stream().allMatch(c -> c.above().stream().allMatch(seen::add));
    JniUtils.backward((PtNDArray) loss, (PtNDArray) gradient, false, false);
    for (int k = todo.size() - 1; k >= 0; k--) {
      if (report) {
        onFinal.accept(todo.get(k).above());
      }
      if (k > 0 || ties.isEmpty()) {
        backwardBelow(todo.get(k));
      }
    }
    if (!ties.isEmpty()) {
      try {
        lastSegmentWithTies(todo.isEmpty() ? null : todo.get(0), ties);
      } finally {
        // Stand-ins belong to the parameter's (the model's) manager: close them, or one would stay per step.
        ties.forEach(t -> t.standIn().close());
      }
    }
    ended = true;
    onFinal.accept(null);
  }

  /**
   * Refuses a backward pass after a segmented one has declared every gradient final (their all-reduces may be
   * running): it would add into gradients being reduced.
   */
  void checkNotEnded() {
    if (ended) {
      throw new IllegalStateException("a second backward pass in one overlapped data-parallel step: the first one"
          + " already handed every gradient to the all-reduce; set ddp_overlap_backward to false for training"
          + " steps that run backward more than once");
    }
  }

  /** The segment below {@code cut}, from the gradient its leaf received. */
  private void backwardBelow(Cut cut) {
    if (cut.leaf() == null) {
      return;
    }
    // Null when nothing above depended on the leaf (then nothing flows below it either).
    PtNDArray grad = JniUtils.getGradient((PtNDArray) cut.leaf());
    if (grad == null) {
      return;
    }
    try {
      JniUtils.backward((PtNDArray) cut.source(), grad, false, false);
      release(grad);
    } finally {
      grad.close();
    }
  }

  /**
   * The lowest segment, where tied parameters are used directly too: one backward from sum(source · its leaf's
   * gradient) + Σ sum(parameter · its stand-in's gradient), whose gradient with respect to each term's tensor is
   * exactly the given gradient (1 · g). A tied parameter thus receives its upper and lower uses' gradients in one
   * backward, summed before they are added to what it already holds, as in one full backward: with gradient
   * accumulation, adding them one at a time would round differently.
   */
  private void lastSegmentWithTies(Cut lowest, List<Tie> ties) {
    List<NDArray> temporaries = new ArrayList<>();
    List<PtNDArray> grads = new ArrayList<>();
    boolean recording = Autograd.isEnabled();
    try {
      Autograd.enable(); // the root's products must be recorded to be differentiated
      NDArray root = null;
      List<Map.Entry<NDArray, NDArray>> terms = new ArrayList<>();
      if (lowest != null && lowest.leaf() != null) {
        terms.add(Map.entry(lowest.source(), lowest.leaf()));
      }
      for (Tie t : ties) {
        terms.add(Map.entry(t.parameter(), t.standIn()));
      }
      for (Map.Entry<NDArray, NDArray> term : terms) {
        PtNDArray grad = JniUtils.getGradient((PtNDArray) term.getValue());
        if (grad == null) {
          continue;
        }
        grads.add(grad);
        NDArray product = term.getKey().mul(grad);
        NDArray sum = product.sum();
        temporaries.add(product);
        temporaries.add(sum);
        if (root == null) {
          root = sum;
        } else {
          root = root.add(sum);
          temporaries.add(root);
        }
      }
      if (root != null) {
        NDArray ones = root.onesLike();
        temporaries.add(ones);
        JniUtils.backward((PtNDArray) root, (PtNDArray) ones, false, false);
        grads.forEach(this::release);
      }
    } finally {
      Autograd.setEnabled(recording);
      temporaries.forEach(NDArray::close);
      grads.forEach(NDArray::close);
    }
  }

  /** Empties a boundary's gradient once used (see backward_segments.py). */
  private void release(PtNDArray grad) {
    // The graph above keeps the leaf, and so its gradient, alive until the batch is freed: empty it now, or every
    // boundary's gradient (one hidden state each) would be held at once.
    kernels.run("release", IValue.from(grad));
  }

  @Override
  public void close() {
    cuts.clear();
    ties.forEach(t -> t.standIn().close()); // a forward pass without its backward
    ties.clear();
    if (CURRENT.get() == this) {
      CURRENT.remove();
    }
  }
}
