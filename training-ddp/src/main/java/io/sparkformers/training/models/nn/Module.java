package io.sparkformers.training.models.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * A node of a model, as torch's {@code nn.Module}: its own parameters and its child modules, each under a name.
 * Paths join the names with dots, and a parameter's path is its Hugging Face name. Everything is visited in
 * declaration order (own parameters first, then children), as torch's {@code named_parameters()}: that order is
 * the order fresh parameters draw from the random generator and the order of the optimizer's state, so a
 * subclass declares in the order transformers' module does.
 *
 * <p>Declaring and creating are two steps: a module's constructor declares shapes and initialisations (no
 * tensor exists), and {@link #createParameters} creates every tensor of the tree, from loaded values or from
 * the initialisation. A loader can thus check a checkpoint against the declared names and shapes first.
 * Forward passes are methods of each subclass, with the inputs it needs.
 */
public abstract class Module {
  private final Map<String, Param> parameters = new LinkedHashMap<>();
  private final Map<String, Module> children = new LinkedHashMap<>();

  /** Declares a parameter of this module (created later by {@link #createParameters}). */
  protected final Param addParameter(String name, Init init, long... shape) {
    checkName(name);
    Param p = new Param(new Shape(shape), init);
    parameters.put(name, p);
    return p;
  }

  /** Adds {@code module} as the child {@code name}; returns it. */
  protected final <M extends Module> M addModule(String name, M module) {
    checkName(name);
    children.put(name, module);
    return module;
  }

  /**
   * Removes the child {@code name} and returns it (null when there is none): how an adapter that added
   * modules to a layer takes them away again when it is merged or unloaded.
   */
  protected final Module removeModule(String name) {
    return children.remove(name);
  }

  private void checkName(String name) {
    if (name.isEmpty() || name.contains(".")) {
      throw new IllegalArgumentException("a module or parameter name is non-empty and has no dot: '" + name + "'");
    }
    if (parameters.containsKey(name) || children.containsKey(name)) {
      throw new IllegalArgumentException(getClass().getSimpleName() + " already has a member named '" + name + "'");
    }
  }

  /** This module's own parameters by name (not its children's). */
  public final Map<String, Param> parameters() {
    return Collections.unmodifiableMap(parameters);
  }

  /** The direct children by name. */
  public final Map<String, Module> children() {
    return Collections.unmodifiableMap(children);
  }

  /** This module (under "") and every descendant by path, parents before children, as torch's named_modules. */
  public final Map<String, Module> namedModules() {
    Map<String, Module> out = new LinkedHashMap<>();
    visitModules("", this, out);
    return Collections.unmodifiableMap(out);
  }

  private static void visitModules(String path, Module m, Map<String, Module> out) {
    out.put(path, m);
    m.children.forEach((name, child) -> visitModules(path.isEmpty() ? name : path + "." + name, child, out));
  }

  /** Every declared parameter of the tree by path, created or not. */
  public final Map<String, Param> declaredParameters() {
    Map<String, Param> out = new LinkedHashMap<>();
    visitParameters("", (name, p) -> out.put(name, p));
    return Collections.unmodifiableMap(out);
  }

  private void visitParameters(String prefix, BiConsumer<String, Param> visitor) {
    parameters.forEach((name, p) -> visitor.accept(prefix + name, p));
    children.forEach((name, child) -> child.visitParameters(prefix + name + ".", visitor));
  }

  /** Every parameter of the tree (trainable or frozen) by Hugging Face name; fails before they are created. */
  public Map<String, Parameter> namedParameters() {
    Map<String, Parameter> out = new LinkedHashMap<>();
    visitParameters("", (name, p) -> out.put(name, p.parameter()));
    return Collections.unmodifiableMap(out);
  }

  /** The parameters that record gradients (not frozen), by name, in {@link #namedParameters()} order. */
  public Map<String, Parameter> trainableParameters() {
    Map<String, Parameter> out = new LinkedHashMap<>();
    visitParameters("", (name, p) -> {
      if (p.trainable()) {
        out.put(name, p.parameter());
      }
    });
    return Collections.unmodifiableMap(out);
  }

  /** Freezes or unfreezes every parameter of this module and its descendants. */
  public final void setTrainable(boolean trainable) {
    visitParameters("", (name, p) -> p.setTrainable(trainable));
  }

  /**
   * Creates every parameter of the tree in declaration order: the tensor in {@code values} under its path
   * (attached to {@code manager}: the module takes it), otherwise a fresh one from its {@link Init}.
   */
  public final void createParameters(NDManager manager, Map<String, NDArray> values) {
    createParameters(manager, values, "");
  }

  /**
   * As {@link #createParameters(NDManager, Map)} for a module that sits at {@code path} in a tree whose other
   * parameters already exist (an adapter added to a loaded model): names, and keys of {@code values}, are
   * full paths.
   */
  public final void createParameters(NDManager manager, Map<String, NDArray> values, String path) {
    visitParameters(path.isEmpty() ? "" : path + ".", (name, p) -> {
      NDArray value = values.get(name);
      NDArray array = value != null ? value : p.init().create(manager, p.shape());
      array.attach(manager);
      p.set(name, array);
    });
  }
}
