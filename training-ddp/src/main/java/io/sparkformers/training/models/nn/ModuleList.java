package io.sparkformers.training.models.nn;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;

/** torch's {@code nn.ModuleList}: children named 0, 1, 2, ... (the {@code h.0} of {@code transformer.h.0.ln_1}). */
public final class ModuleList<M extends Module> extends Module implements Iterable<M> {
  private final List<M> items = new ArrayList<>();

  /** Appends {@code module} under the next index; returns it. */
  public M add(M module) {
    addModule(String.valueOf(items.size()), module);
    items.add(module);
    return module;
  }

  public M get(int index) {
    return items.get(index);
  }

  public int size() {
    return items.size();
  }

  @Override
  public Iterator<M> iterator() {
    return Collections.unmodifiableList(items).iterator();
  }
}
