package io.sparkformers.accelerate.internal;

import io.sparkformers.accelerate.ProcessGroupBackend;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

/** Finds a {@link ProcessGroupBackend} by name through {@link ServiceLoader}. */
public final class Backends {
  private Backends() {}

  public static ProcessGroupBackend named(String name) {
    List<String> known = new ArrayList<>();
    ClassLoader loader = Backends.class.getClassLoader();
    for (ProcessGroupBackend b : ServiceLoader.load(ProcessGroupBackend.class, loader)) {
      if (b.name().equals(name)) {
        return b;
      }
      known.add(b.name());
    }
    throw new IllegalArgumentException("unknown process group backend '" + name + "'; available: " + known);
  }
}
